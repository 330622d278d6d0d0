"""The FeatureVisualizer's long run in Voilà, driven by headless Chromium.

Voilà serves ``fixtures/featurevis.ipynb`` (SqueezeNet with random weights, 8 channels of
``fire8-relu_expand3x3``, 2048 steps at 128 px: far longer than the test). The test presses
**Run**, sees the progress bar's count grow and the pictures appear while the run goes on, types a
channel spec meanwhile (checked by the kernel: a round trip, timed), presses **Stop** and
sees the run end with its pictures kept and Run pressable again. The times (Stop click → run
ended, shown in the page; the round trips during the run) are printed and written to
``artifacts/e2e/featurevis.txt``; Stop must end the run within a few seconds.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .conftest import FIXTURES, new_page, voila_server
from .test_browser import RENDER_TIMEOUT, WidgetPage, _label

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "featurevis.ipynb"
#: Seconds the run may take to show progress, then a preview.
RUN_TIMEOUT = 60.0
#: Seconds from the Stop click to the run's end shown in the page (one step is well below 1 s).
STOP_TIMEOUT = 5.0


def _button(w: WidgetPage, text: str) -> Any:
    return w.root.locator("button.widget-button").filter(has_text=_label(text)).first


def _count(w: WidgetPage) -> int:
    """Steps done, from the progress bar's label ``done/total`` (0 before any)."""
    found = re.match(r"^(\d+)/\d+$", w.root.locator(".widget-hprogress .widget-label").first.inner_text().strip())
    return int(found.group(1)) if found else 0


def _when(w: WidgetPage, condition_js: str, arg: Any, timeout: float) -> float:
    """Wait until ``condition_js(arg)`` holds in the page; the page's clock then (ms)."""
    handle = w.page.wait_for_function(
        f"(arg) => ({condition_js})(arg) ? performance.now() : false", arg=arg, timeout=timeout * 1000)
    return float(handle.json_value())


@pytest.fixture(scope="module")
def featurevis(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1400)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            root = page.locator(".aw-featurevis").first
            w = WidgetPage(page, root, artifacts, "voila-featurevis", console, page.locator("body"))
            try:
                root.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
                _button(w, "Run").wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
            except Exception:
                w.screenshot("00-load-FAILED")
                raise AssertionError(
                    f"the FeatureVisualizer did not render in Voilà within {RENDER_TIMEOUT:.0f} s; "
                    f"server log:\n{server.log_tail()}\nconsole: {console[-10:]}") from None
            yield w
        finally:
            context.close()
            server.remember_children()


def test_run_shows_progress_and_stop_ends_it_keeping_the_pictures(featurevis, artifacts):
    w = featurevis
    run, stop = _button(w, "Run"), _button(w, "Stop")
    assert run.is_enabled() and stop.is_disabled()
    w.assert_no_error("01-loaded")
    w.screenshot("01-loaded")

    run.click()
    label = w.root.locator(".widget-hprogress .widget-label").first.element_handle()
    _when(w, "el => /^([3-9]|\\d\\d+)\\/2048$/.test(el.innerText.trim())", label, RUN_TIMEOUT)
    assert run.is_disabled() and stop.is_enabled()  # a second Run is not offered
    grid = w.img(0)
    w.page.wait_for_function("img => !!img.getAttribute('src') && img.naturalWidth > 0",
                             arg=grid.element_handle(), timeout=RUN_TIMEOUT * 1000)
    assert w.img_state(grid)["png"]  # the pictures so far, while the run goes on
    w.screenshot("02-running")

    # The kernel answers meanwhile: a channel spec typed in is checked there (a bad one is
    # refused in the error line, a good one clears it), a round trip timed in the page.
    channels = w.root.locator(".widget-text").filter(
        has=w.page.locator("label.widget-label", has_text=_label("channels"))).first.locator("input")
    error = w.error_line().element_handle()
    t0 = w.page.evaluate("performance.now()")
    channels.fill("0-x")
    channels.press("Enter")
    shown = _when(w, "el => el.innerText.includes('cannot read channels')", error, 30.0)
    refuse_ms = shown - t0
    t0 = w.page.evaluate("performance.now()")
    channels.fill("0-6")
    channels.press("Enter")
    cleared = _when(w, "el => el.innerText.trim() === ''", error, 30.0)
    accept_ms = cleared - t0
    steps_then = _count(w)

    t0 = w.page.evaluate("performance.now()")
    stop.click()
    status = w.root.locator(".widget-html").filter(has_text="stopped after").first
    try:
        ended = _when(w, "el => el.innerText.includes('stopped after')",
                      w.root.element_handle(), STOP_TIMEOUT)
    except Exception:
        w.screenshot("03-stop-FAILED")
        raise AssertionError(f"the run did not stop within {STOP_TIMEOUT:.0f} s of the Stop click") from None
    stop_ms = ended - t0
    text = status.inner_text()
    done = int(re.search(r"stopped after (\d+) of 2048 steps", text).group(1))
    assert steps_then <= done < 2048, text
    w.page.wait_for_function("b => !b.disabled", arg=run.element_handle(), timeout=10_000)
    assert stop.is_disabled()
    assert w.img_state(grid)["png"] and w.img_state(w.img(1))["png"]  # the pictures reached stay
    w.assert_no_error("03-stopped")
    w.screenshot("03-stopped")

    line = (f"FeatureVisualizer in Voilà (8 channels, 128 px, SqueezeNet on this CPU): Stop click -> "
            f"run ended and shown {stop_ms:.0f} ms; during the run, a channel spec typed in: refused "
            f"in {refuse_ms:.0f} ms, accepted in {accept_ms:.0f} ms; stopped after {done} of 2048 steps")
    print("\n" + line)
    (artifacts / "featurevis.txt").write_text(line + "\n")
    time.sleep(0.2)  # let the last messages settle before the page closes
