"""The widgets in a real browser: Voilà and JupyterLab, driven by headless Chromium.

- The ActivationExplorer (an anywidget since issue 20) is driven by ``test_explorer_browser.py``.
- JupyterLab opens ``fixtures/compare.ipynb``, runs all cells from the Run menu and drives the
  CompareExplorer it shows.
- The round trip from a slider key press to the new picture is timed in the page and printed
  (median, p90), not asserted; also written to ``artifacts/e2e/latency.txt``.

Full-page screenshots of every step: ``artifacts/e2e/*.png``.
Run only these: ``python -m pytest -m e2e -s``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIXTURES, lab_server, new_page


pytestmark = pytest.mark.e2e

COMPARE_NOTEBOOK = FIXTURES / "compare.ipynb"

#: Seconds a page may take to show the widget (kernel start, torch import, model load).
RENDER_TIMEOUT = 150.0
#: Seconds one change may take to reach the picture.
CHANGE_TIMEOUT = 30.0
#: Key presses timed for the latency figure.
LATENCY_PRESSES = 20

# Text that betrays an error on the page: a traceback or an exception's name.
ERROR_TEXT = re.compile(r"Traceback \(most recent call last\)|\b[A-Z]\w*Error\b|\bError:")
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

# The PNG bytes behind an <img> (a blob: or data: URL), read in the page.
_IMG_STATE_JS = """
async (img) => {
  const src = img.getAttribute('src') || '';
  if (!src) return {src: '', bytes: 0, sha: '', png: false, width: 0};
  const buf = await (await fetch(src)).arrayBuffer();
  const digest = await crypto.subtle.digest('SHA-256', buf);
  const hex = (b) => Array.from(new Uint8Array(b)).map(x => x.toString(16).padStart(2, '0')).join('');
  return {src: src, bytes: buf.byteLength, sha: hex(digest),
          png: hex(buf.slice(0, 8)) === '89504e470d0a1a0a',
          width: img.naturalWidth, complete: img.complete};
}
"""


# --------------------------------------------------------------------------- page helpers


def _label(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class WidgetPage:
    """An explorer widget on a page: its controls found by visible labels, its pictures, its
    error line; helpers that act, wait for the picture to change and take screenshots."""

    def __init__(self, page: Any, root: Any, shots: Path, prefix: str, console: list[str],
                 error_scope: Any) -> None:
        self.page = page
        self.root = root
        self.shots = shots
        self.prefix = prefix
        self.console = console
        self.error_scope = error_scope  # where error text must not appear (all matches)
        self.load_seconds = 0.0  # page requested -> first picture shown

    # ------------------------------------------------------------ controls
    def dropdown(self, description: str) -> Any:
        """The <select> of the Dropdown whose description is ``description``."""
        box = self.root.locator(".widget-dropdown").filter(
            has=self.page.locator("label.widget-label", has_text=_label(description))
        )
        return box.first.locator("select")

    def layer_select(self) -> Any:
        """The second of the linked layer dropdowns (the one without a description): the
        dropdown right after the one described "layer"."""
        return self.root.locator(
            ".widget-dropdown:has(> label.widget-label:text-is('layer')) + .widget-dropdown select"
        ).first

    def slider_handle(self, description: str = "channel") -> Any:
        box = self.root.locator(".widget-slider").filter(
            has=self.page.locator("label.widget-label", has_text=_label(description))
        )
        return box.first.locator(".noUi-handle")

    def toggle(self, text: str) -> Any:
        """A button of a ToggleButtons, by its visible text."""
        return self.root.locator(".widget-toggle-buttons button").filter(has_text=_label(text)).first

    def upload(self, path: Path) -> None:
        """Give ``path`` to the FileUpload. ipywidgets 8 keeps its ``input[type=file]`` out of
        the DOM and clicks it when the button is clicked: catch the file chooser that click
        opens and set the file on that input (Playwright's ``set_input_files``)."""
        with self.page.expect_file_chooser(timeout=CHANGE_TIMEOUT * 1000) as chooser:
            self.root.locator(".widget-upload").first.click()
        chooser.value.element.set_input_files(str(path))

    def error_line(self) -> Any:
        """The explorer's error line: its last child (an HTML widget, empty when all is well)."""
        custom = self.root.locator(".aw-error")
        if custom.count():
            return custom.first
        return self.root.locator(":scope > .widget-html").last

    def error_text(self) -> str:
        return self.error_line().inner_text().strip()

    # ipywidgets writes option labels with non-breaking spaces: compare them with plain ones.
    @staticmethod
    def option_texts(select: Any) -> list[str]:
        return select.evaluate("s => Array.from(s.options).map(o => o.text.replace(/\\u00a0/g, ' '))")

    @staticmethod
    def selected_text(select: Any) -> str:
        return select.evaluate(
            "s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text.replace(/\\u00a0/g, ' ')"
        )

    def choose(self, select: Any, text: str) -> None:
        """Pick the option labelled ``text`` (as a person would, with a change event)."""
        select.select_option(index=self.option_texts(select).index(text))

    # ------------------------------------------------------------ pictures
    def img(self, index: int = 0) -> Any:
        return self.root.locator("img.widget-image").nth(index)

    def img_state(self, img: Any) -> dict[str, Any]:
        """src, size, SHA-256 and PNG signature of the bytes an <img> shows (bounded retries:
        a blob URL may be replaced and revoked while it is read)."""
        last: Exception | None = None
        for _ in range(10):
            try:
                return img.evaluate(_IMG_STATE_JS)
            except Exception as exc:  # noqa: BLE001 - a revoked blob: URL; read again
                last = exc
                time.sleep(0.1)
        raise AssertionError(f"could not read the picture's bytes: {last}")

    def wait_for_png(self, img: Any, timeout: float = RENDER_TIMEOUT) -> dict[str, Any]:
        """Wait until ``img`` shows a loaded PNG; return its state."""
        img.wait_for(state="attached", timeout=timeout * 1000)
        self.page.wait_for_function(
            "img => !!img.getAttribute('src') && img.complete && img.naturalWidth > 0",
            arg=img.element_handle(timeout=timeout * 1000), timeout=timeout * 1000,
        )
        state = self.img_state(img)
        assert state["png"], f"the picture is not a PNG: {state}"
        return state

    def wait_for_new_png(self, img: Any, before: dict[str, Any],
                         timeout: float = CHANGE_TIMEOUT) -> dict[str, Any]:
        """Wait (bounded) until ``img`` shows another src, loaded; return its state."""
        self.page.wait_for_function(
            "([img, old]) => img.getAttribute('src') !== old && !!img.getAttribute('src')"
            " && img.complete && img.naturalWidth > 0",
            arg=[img.element_handle(), before["src"]], timeout=timeout * 1000,
        )
        state = self.img_state(img)
        assert state["png"], f"the new picture is not a PNG: {state}"
        return state

    def change(self, action: Callable[[], None], step: str, *, imgs: tuple[int, ...] = (0,),
               must_differ: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
        """Do ``action``; wait until every picture in ``imgs`` changed (src and bytes for
        those in ``must_differ``, all by default); check that no error is shown; screenshot."""
        must_differ = imgs if must_differ is None else must_differ
        before = {i: self.img_state(self.img(i)) for i in imgs}
        action()
        after = {}
        for i in imgs:
            try:
                after[i] = self.wait_for_new_png(self.img(i), before[i])
            except Exception as exc:
                self.screenshot(f"{step}-FAILED")
                raise AssertionError(
                    f"{step}: picture {i} did not change within {CHANGE_TIMEOUT:.0f} s "
                    f"(error line: {self.error_text()!r}): {exc}"
                ) from None
        for i in must_differ:
            assert after[i]["sha"] != before[i]["sha"], (
                f"{step}: picture {i} got a new src but the same PNG bytes"
            )
        self.assert_no_error(step)
        self.screenshot(step)
        return [after[i] for i in imgs]

    # ------------------------------------------------------------ checks and shots
    def assert_no_error(self, step: str) -> None:
        stderr = self.page.locator(STDERR_OUTPUT)
        if stderr.count():
            self.screenshot(f"{step}-FAILED")
            raise AssertionError(f"{step}: stderr output on the page: {stderr.all_inner_texts()}")
        text = "\n".join(self.error_scope.all_inner_texts())
        found = ERROR_TEXT.search(text)
        if found:
            self.screenshot(f"{step}-FAILED")
            i = found.start()
            raise AssertionError(f"{step}: error text on the page: …{text[max(0, i - 200):i + 600]}")
        line = self.error_text()
        assert line == "", f"{step}: the widget's error line says {line!r}"
        crashes = [m for m in self.console if m.startswith("pageerror")]
        assert not crashes, f"{step}: uncaught errors in the page: {crashes}"

    def screenshot(self, step: str) -> Path:
        path = self.shots / f"{self.prefix}-{step}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _explorer_root(page: Any) -> Any:
    """The outermost VBox holding a "channel" slider and a file upload: the explorer."""
    return page.locator(
        ".widget-vbox:has(.widget-slider label.widget-label:text-is('channel')):has(.widget-upload)"
    ).first


# --------------------------------------------------------------------------- JupyterLab compare


@pytest.fixture(scope="module")
def lab(browser, e2e_home, artifacts):
    with lab_server([COMPARE_NOTEBOOK], e2e_home, artifacts) as server:
        yield server


def _wait_kernel_idle(page: Any, timeout: float) -> None:
    page.wait_for_function(
        "() => /\\|\\s*Idle\\b/.test((document.querySelector('#jp-main-statusbar') || {}).innerText || '')",
        timeout=timeout * 1000,
    )


def _press(w: WidgetPage, key: str) -> None:
    handle = w.slider_handle()
    handle.focus()
    w.page.keyboard.press(key)


def _slider_key(w: WidgetPage) -> str:
    """ArrowRight, or ArrowLeft when the slider is at its maximum."""
    handle = w.slider_handle()
    now = float(handle.get_attribute("aria-valuenow") or 0)
    top = float(handle.get_attribute("aria-valuemax") or 0)
    return "ArrowRight" if now < top else "ArrowLeft"


def test_compare_explorer_in_jupyterlab(browser, lab, artifacts):
    console: list[str] = []
    context, page = new_page(browser, console, width=1400, height=1300)
    try:
        page.goto(f"{lab.url}/lab/tree/{COMPARE_NOTEBOOK.name}", timeout=RENDER_TIMEOUT * 1000)
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=RENDER_TIMEOUT * 1000)
        _wait_kernel_idle(page, RENDER_TIMEOUT)
        page.screenshot(path=str(artifacts / "lab-compare-01-opened.png"), full_page=True)
        # Run all cells through the menu, as a person would.
        page.locator(".lm-MenuBar-itemLabel").filter(has_text=_label("Run")).first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        output = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea")
        root = output.locator(".widget-vbox:has(.widget-slider label.widget-label:text-is('channel'))").first
        w = WidgetPage(page, root, artifacts, "lab-compare", console, output)
        try:
            root.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
            for i in range(5):  # two thumbnails, then A, B and B − A
                w.wait_for_png(w.img(i))
        except Exception:
            w.screenshot("02-run-all-FAILED")
            raise AssertionError(
                f"the CompareExplorer did not render in JupyterLab; server log:\n{lab.log_tail()}"
                f"\nconsole: {console[-10:]}"
            ) from None
        assert w.root.locator("img.widget-image").count() == 5
        root.scroll_into_view_if_needed()
        w.assert_no_error("02-rendered")
        w.screenshot("02-rendered")
        root.screenshot(path=str(artifacts / "compare.png"))

        # The channel slider: A's and B's maps change (the difference may not, so it only
        # has to be redrawn).
        key = _slider_key(w)
        w.change(lambda: _press(w, key), "03-channel-slider", imgs=(2, 3, 4), must_differ=(2, 3))
        # pre/post.
        pre, post = w.toggle("pre-ReLU"), w.toggle("post-ReLU")
        other = post if "mod-active" in (pre.get_attribute("class") or "") else pre
        w.change(other.click, "04-stage", imgs=(2, 3, 4), must_differ=(2, 3))
        # Another block of the network.
        group = w.dropdown("layer")
        current = w.selected_text(group)
        target = next(o for o in w.option_texts(group)
                      if re.match(r"^fire\d+ \(", o) and o != current)
        w.change(lambda: w.choose(group, target), "05-layer-group",
                 imgs=(2, 3, 4), must_differ=(2, 3))
        w.page.locator(".jp-NotebookPanel").first.screenshot(
            path=str(artifacts / "lab-compare-06-notebook.png"))
    finally:
        context.close()
        lab.remember_children()
