"""The FeatureVisualizer's long run in Voilà and in marimo, driven by headless Chromium on its
own page (the ES module ``featurevis.js``).

Voilà serves ``fixtures/featurevis.ipynb``, marimo ``fixtures/featurevis_marimo.py``
(``mo.ui.anywidget``); both hold SqueezeNet with random weights, 8 channels of
``fire8-relu_expand3x3``, 2048 steps at 128 px: far longer than the test). The test presses
**Run**, sees the step count grow and the pictures appear while the run goes on (drawn in the
page from raw RGB bytes), types a channel spec meanwhile (checked by the kernel: a round trip,
timed), presses **Stop** and sees the run end with its pictures kept and Run pressable again,
then clicks a picture to enlarge it. Every wait is on the page's DOM: ``data-run`` (running,
stopping, idle), ``data-progress`` (steps done), ``data-version`` (pictures drawn),
``data-shown`` (``layer|channels|step|selected``). The times (Stop click → run ended, shown
in the page; the round trips during the run) are printed and written to
``artifacts/e2e/featurevis-<front end>.txt``; Stop must end the run within a few seconds.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import FIXTURES, marimo_server, new_page, voila_server
from .test_explorer_browser import KNOWN_PAGE_ERRORS, RENDER_TIMEOUT

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "featurevis.ipynb"
MARIMO = FIXTURES / "featurevis_marimo.py"
#: Seconds the run may take to show progress, then a preview.
RUN_TIMEOUT = 60.0
#: Seconds from the Stop click to the run's end shown in the page (one step is well below 1 s).
STOP_TIMEOUT = 5.0


class Page:
    """The FeatureVisualizer's page: its parts and waits on its DOM state."""

    def __init__(self, page: Any, artifacts: Any, console: list[str], prefix: str = "voila") -> None:
        self.page, self.artifacts, self.console, self.prefix = page, artifacts, console, prefix
        self.root = page.locator(".aw-featurevis-view").first

    def part(self, name: str) -> Any:
        return self.root.locator(f".aw-{name}").first

    def when(self, condition_js: str, timeout: float) -> float:
        """Wait until ``condition_js(root)`` holds; the page's clock then (ms)."""
        handle = self.page.wait_for_function(
            f"el => ({condition_js})(el) ? performance.now() : false", arg=self.root.element_handle(),
            timeout=timeout * 1000)
        return float(handle.json_value())

    def now(self) -> float:
        return float(self.page.evaluate("performance.now()"))

    def error(self) -> str:
        return self.part("error").inner_text() if self.part("error").is_visible() else ""

    def screenshot(self, step: str) -> None:
        path = self.artifacts / f"{self.prefix}-featurevis-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)


def _loaded(w: Page, log_tail: Any) -> Page:
    try:
        w.part("fv-run").wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
        w.when("el => el.dataset.run === 'idle'", RENDER_TIMEOUT)
    except Exception:
        w.screenshot("00-load-FAILED")
        raise AssertionError(
            f"the FeatureVisualizer did not render within {RENDER_TIMEOUT:.0f} s; "
            f"server log:\n{log_tail()}\nconsole: {w.console[-10:]}") from None
    return w


def test_featurevis_in_voila(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1400)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            drive(_loaded(Page(page, artifacts, console, "voila"), server.log_tail), "Voilà")
        finally:
            context.close()
            server.remember_children()


def test_featurevis_in_marimo(browser, e2e_home, artifacts):
    console: list[str] = []
    with marimo_server(MARIMO, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1400)
        try:
            page.goto(server.url + "/", timeout=RENDER_TIMEOUT * 1000)
            drive(_loaded(Page(page, artifacts, console, "marimo"), server.log_tail), "marimo")
        finally:
            context.close()
            server.remember_children()


def drive(w: Page, where: str) -> None:
    """Run, progress, pictures while running, a channel spec checked meanwhile, Stop, enlarge."""
    run, stop = w.part("fv-run"), w.part("fv-stop")
    assert run.is_enabled() and stop.is_disabled() and w.error() == ""
    assert w.part("fv-layer").input_value() == "fire8-relu_expand3x3"
    assert w.part("fv-channels").input_value() == "0-7"
    assert w.part("fv-range").inner_text().startswith("of 0..")
    assert w.part("banner").is_visible()  # random weights
    w.screenshot("01-loaded")

    run.click()
    w.when("el => el.dataset.run === 'running' && +el.dataset.progress >= 3", RUN_TIMEOUT)
    assert run.is_disabled() and stop.is_enabled()  # a second Run is not offered
    assert re.match(r"^\d+/2048$", w.part("fv-count").inner_text())
    w.when("el => el.querySelectorAll('.aw-fv-item canvas').length === 8 && +el.dataset.version > 0",
           RUN_TIMEOUT)
    assert w.part("fv-big").is_visible()  # the pictures so far, while the run goes on
    assert w.root.locator(".aw-fv-item canvas").first.evaluate("c => [c.width, c.height]") == [128, 128]
    w.screenshot("02-running")

    # The kernel answers meanwhile: a channel spec typed in is checked there (a bad one is
    # refused in the error line, a good one clears it), a round trip timed in the page.
    channels = w.part("fv-channels")
    channels.fill("0-x")
    steps_typed = int(w.root.evaluate("el => el.dataset.progress"))  # progress redraws keep the text
    w.when(f"el => +el.dataset.progress > {steps_typed}", RUN_TIMEOUT)
    assert channels.input_value() == "0-x"
    t0 = w.now()
    channels.press("Enter")
    refused = w.when("el => el.querySelector('.aw-error').innerText.includes('cannot read channels')", 30.0)
    refuse_ms = refused - t0
    assert w.root.evaluate("el => el.dataset.run") == "running"
    t0 = w.now()
    channels.fill("0-6")
    channels.press("Enter")
    accept_ms = w.when("el => el.querySelector('.aw-error').hidden", 30.0) - t0
    steps_then = int(w.root.evaluate("el => el.dataset.progress"))

    t0 = w.now()
    stop.click()
    try:
        ended = w.when("el => el.querySelector('.aw-fv-status').innerText.includes('stopped after')",
                       STOP_TIMEOUT)
    except Exception:
        w.screenshot("03-stop-FAILED")
        raise AssertionError(f"the run did not stop within {STOP_TIMEOUT:.0f} s of the Stop click") from None
    stop_ms = ended - t0
    text = w.part("fv-status").inner_text()
    done = int(re.search(r"stopped after (\d+) of 2048 steps", text).group(1))
    assert steps_then <= done < 2048, text
    w.when("el => el.dataset.run === 'idle' && !el.querySelector('.aw-fv-run').disabled", 10.0)
    assert stop.is_disabled() and w.part("fv-progress").get_attribute("data-outcome") == "warning"
    w.when(f"el => el.dataset.shown.split('|')[2] === '{done}'", 10.0)  # the last pictures, kept
    assert w.root.locator(".aw-fv-item").count() == 8 and w.part("fv-big").is_visible()
    w.screenshot("03-stopped")

    # A click on a picture enlarges it (Python's `selected` follows, the page draws it).
    w.root.locator(".aw-fv-item").nth(3).click()
    w.when("el => el.dataset.shown.split('|')[3] === '3'", 10.0)
    assert w.part("fv-selected").input_value() == "3"
    assert w.root.locator(".aw-fv-item").nth(3).evaluate("f => f.classList.contains('aw-fv-chosen')")
    assert w.error() == ""
    errors = [c for c in w.console if c.startswith("pageerror") and c not in KNOWN_PAGE_ERRORS]
    assert not errors, w.console
    w.screenshot("04-enlarged")

    line = (f"FeatureVisualizer in {where} (8 channels, 128 px, SqueezeNet on this CPU): Stop click -> "
            f"run ended and shown {stop_ms:.0f} ms; during the run, a channel spec typed in: refused "
            f"in {refuse_ms:.0f} ms, accepted in {accept_ms:.0f} ms; stopped after {done} of 2048 steps")
    print("\n" + line)
    (w.artifacts / f"featurevis-{w.prefix}.txt").write_text(line + "\n")
