"""The widgets in a real browser: Voilà and JupyterLab, driven by headless Chromium.

- Voilà serves ``notebooks/00_explorer.ipynb`` (the app-style ActivationExplorer on
  SqueezeNet). The page is loaded once for the module; each test changes one thing (the layer
  dropdowns, the channel slider from the keyboard, pre/post, the view, an uploaded photo, an
  uploaded file that is not a picture) and checks that the picture on the page changed (new
  ``src`` AND different PNG bytes) and that no error or traceback is shown. Each test sets up
  what it needs, so they pass in any order.
- JupyterLab opens ``fixtures/compare.ipynb``, runs all cells from the Run menu and drives the
  CompareExplorer it shows.
- The round trip from a slider key press to the new picture is timed in the page and printed
  (median, p90), not asserted; also written to ``artifacts/e2e/latency.txt``.

Full-page screenshots of every step: ``artifacts/e2e/*.png``.
Run only these: ``python -m pytest -m e2e -s``.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import FIXTURES, REPO, lab_server, new_page, voila_server

pytestmark = pytest.mark.e2e

EXPLORER_NOTEBOOK = REPO / "notebooks" / "00_explorer.ipynb"
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


# --------------------------------------------------------------------------- Voilà explorer


@pytest.fixture(scope="module")
def explorer(browser, e2e_home, artifacts):
    """The explorer notebook in Voilà, loaded once in one page for the module's tests."""
    assert EXPLORER_NOTEBOOK.is_file(), f"{EXPLORER_NOTEBOOK} is missing"
    console: list[str] = []
    with voila_server(EXPLORER_NOTEBOOK, e2e_home, artifacts) as server:
        # Tall enough for the whole explorer (Voilà's page scrolls inside a container, so a
        # full-page screenshot is the viewport).
        context, page = new_page(browser, console, height=1500)
        try:
            t0 = time.perf_counter()
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            root = _explorer_root(page)
            w = WidgetPage(page, root, artifacts, "voila-explorer", console, page.locator("body"))
            try:
                root.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
                w.wait_for_png(w.img(0))
            except Exception:
                w.screenshot("00-load-FAILED")
                raise AssertionError(
                    f"the explorer did not render in Voilà within {RENDER_TIMEOUT:.0f} s; "
                    f"server log:\n{server.log_tail()}\nconsole: {console[-10:]}"
                ) from None
            w.load_seconds = time.perf_counter() - t0
            yield w
        finally:
            context.close()
            server.remember_children()


def _ensure_view(w: WidgetPage, view: str, step: str) -> None:
    """Show ``view`` (click its toggle button unless it is already active)."""
    button = w.toggle(view)
    if "mod-active" not in (button.get_attribute("class") or ""):
        w.change(button.click, f"{step}-view-{view}")


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


def test_explorer_renders_in_voila(explorer):
    w = explorer
    state = w.img_state(w.img(0))
    assert state["png"] and state["bytes"] > 1000 and state["width"] >= 200, state
    thumb = w.img_state(w.img(1))
    assert thumb["png"], "the thumbnail of the input image is missing"
    assert w.slider_handle().is_visible()
    assert w.dropdown("image").count() == 1 and w.dropdown("layer").count() == 1
    assert w.layer_select().count() == 1
    w.assert_no_error("01-rendered")
    w.screenshot("01-rendered")
    w.root.screenshot(path=str(w.shots / "explorer.png"))  # the widget alone (README)
    print(f"\nVoilà: explorer rendered {w.load_seconds:.1f} s after the page was requested")


def test_layer_dropdowns_change_the_picture(explorer):
    w = explorer
    _ensure_view(w, "grid", "02")
    group = w.dropdown("layer")
    options = w.option_texts(group)
    current = w.selected_text(group)
    # Another block of the network (its first layer is shown).
    blocks = [o for o in options if re.match(r"^fire\d+ \(", o) and o != current]
    target = blocks[len(blocks) // 2] if blocks else next(o for o in options if o != current)
    w.change(lambda: w.choose(group, target), "02-layer-group")
    assert w.selected_text(group) == target
    # Another layer of that block, from the second dropdown.
    layer = w.layer_select()
    names = w.option_texts(layer)
    assert len(names) > 1, f"block {target} offers one layer only: {names}"
    now = w.selected_text(layer)
    other = next(n for n in names if n != now)
    w.change(lambda: w.choose(layer, other), "03-layer")
    assert w.selected_text(layer) == other


def test_channel_slider_keyboard_changes_the_picture(explorer):
    w = explorer
    _ensure_view(w, "grid", "04")
    handle = w.slider_handle()
    before = handle.get_attribute("aria-valuenow")
    key = _slider_key(w)
    w.change(lambda: _press(w, key), "04-channel-slider")
    assert handle.get_attribute("aria-valuenow") != before
    readout = w.root.locator(".widget-slider .widget-readout").first.inner_text().strip()
    assert readout == str(int(float(handle.get_attribute("aria-valuenow")))), readout


def test_stage_toggle_changes_the_picture(explorer):
    w = explorer
    _ensure_view(w, "grid", "05")
    pre, post = w.toggle("pre-ReLU"), w.toggle("post-ReLU")
    if pre.is_disabled():  # a layer without an activation after it: pick one that has one
        layer = w.layer_select()
        for name in w.option_texts(layer):
            if name.startswith(("conv", "fire")) and "relu" not in name and "pool" not in name:
                w.change(lambda n=name: w.choose(layer, n), "05-stage-layer")
                break
        if pre.is_disabled():
            w.change(lambda: w.dropdown("layer").select_option(index=0), "05-stage-layer")
    assert not pre.is_disabled(), "the pre/post toggle stays disabled"
    first, second = (post, pre) if "mod-active" in (pre.get_attribute("class") or "") else (pre, post)
    w.change(first.click, "05-stage-" + first.inner_text().strip())
    assert "mod-active" in (first.get_attribute("class") or "")
    w.change(second.click, "06-stage-" + second.inner_text().strip())
    assert "mod-active" in (second.get_attribute("class") or "")


def test_view_toggle_changes_the_picture(explorer):
    w = explorer
    _ensure_view(w, "grid", "07")
    for n, view in enumerate(("channel", "overlay", "grid"), start=7):
        button = w.toggle(view)
        w.change(button.click, f"{n:02d}-view-{view}")
        assert "mod-active" in (button.get_attribute("class") or "")


def test_a_click_on_a_grid_tile_picks_its_channel(explorer):
    from actwidgets import pixels

    w = explorer
    _ensure_view(w, "grid", "07b")
    label = w.selected_text(w.layer_select())  # "fire6-squeeze1x1 · 48 ch · 14×14"
    found = re.search(r"(\d+) ch · (\d+)×(\d+)", label)
    assert found, label
    channels, h, wd = (int(v) for v in found.groups())
    layout = pixels.grid_layout(channels, (h, wd))
    img = w.img(0)
    size = img.evaluate("i => [i.naturalWidth, i.clientWidth]")
    scale = size[0] // layout.width
    now = w.root.locator(".widget-slider .widget-readout").first.inner_text().strip()
    target = 5 if now != "5" else 6
    x0, y0, x1, y1 = layout.box(target)
    css = size[1] / size[0]
    point = {"x": (x0 + x1) / 2 * scale * css, "y": (y0 + y1) / 2 * scale * css}
    w.change(lambda: img.click(position=point), "07c-click-tile")
    readout = w.root.locator(".widget-slider .widget-readout").first
    w.page.wait_for_function("([r, v]) => r.innerText.trim() == v",
                             arg=[readout.element_handle(), str(target)], timeout=CHANGE_TIMEOUT * 1000)


def test_upload_photo_changes_the_picture(explorer):
    w = explorer
    _ensure_view(w, "grid", "10")
    photo = FIXTURES / "tiny_photo.png"
    image = w.dropdown("image")
    thumb_before = w.img_state(w.img(1))
    w.change(lambda: w.upload(photo), "10-upload-photo")
    w.page.wait_for_function(
        "([s, name]) => s.selectedIndex >= 0 && s.options[s.selectedIndex].text.startsWith(name)",
        arg=[image.element_handle(), photo.name], timeout=CHANGE_TIMEOUT * 1000,
    )
    thumb = w.wait_for_new_png(w.img(1), thumb_before)
    assert thumb["sha"] != thumb_before["sha"], "the thumbnail still shows the previous image"


def test_upload_non_image_shows_error_and_keeps_working(explorer):
    w = explorer
    _ensure_view(w, "grid", "11")
    bad = FIXTURES / "not_an_image.txt"
    before = w.img_state(w.img(0))
    image = w.dropdown("image")
    image_before = w.selected_text(image)
    w.upload(bad)
    try:
        w.page.wait_for_function(
            "el => el.innerText.trim().length > 0", arg=w.error_line().element_handle(),
            timeout=CHANGE_TIMEOUT * 1000,
        )
    except Exception:
        w.screenshot("11-upload-not-an-image-FAILED")
        raise AssertionError("no error message appeared after uploading a file that is not an image")
    message = w.error_text()
    w.screenshot("11-upload-not-an-image")
    assert bad.name in message, f"the message does not name the file: {message!r}"
    assert "Traceback" not in message and len(message) < 1500, message
    assert w.page.locator(STDERR_OUTPUT).count() == 0
    # Nothing else changed: same picture, same image picked.
    assert w.img_state(w.img(0))["sha"] == before["sha"]
    assert w.selected_text(image) == image_before
    # ... and the explorer keeps working: the slider still changes the picture (and the
    # successful render clears the message).
    key = _slider_key(w)
    w.change(lambda: _press(w, key), "12-after-error-slider")


def _time_presses(w: WidgetPage, n: int) -> tuple[list[float], list[float]]:
    """Round trips (ms) from n slider key presses to the new picture: until its src is set,
    and until it is loaded (decoded), both timed in the page."""
    img = w.img(0).element_handle()
    w.page.evaluate(
        """img => {
          const lat = window.__awLatency = {t0: null, src: null, load: null};
          if (window.__awLatencyInstalled) return;
          window.__awLatencyInstalled = true;
          document.addEventListener('keydown', e => {
            if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
              const l = window.__awLatency; l.t0 = performance.now(); l.src = null; l.load = null;
            }
          }, true);
          new MutationObserver(() => {
            const l = window.__awLatency;
            if (l.t0 !== null && l.src === null) l.src = performance.now();
          }).observe(img, {attributes: true, attributeFilter: ['src']});
          img.addEventListener('load', () => {
            const l = window.__awLatency;
            if (l.src !== null && l.load === null) l.load = performance.now();
          });
        }""",
        img,
    )
    handle = w.slider_handle()
    handle.focus()
    to_src, to_load = [], []
    for _ in range(n):
        key = _slider_key(w)
        w.page.keyboard.press(key)
        w.page.wait_for_function(
            "() => window.__awLatency.load !== null", timeout=CHANGE_TIMEOUT * 1000
        )
        lat = w.page.evaluate("() => window.__awLatency")
        to_src.append(lat["src"] - lat["t0"])
        to_load.append(lat["load"] - lat["t0"])
        time.sleep(0.05)  # let trailing messages (stats line) settle before the next press
    return to_src, to_load


def _p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[-1]


def test_slider_latency(explorer, artifacts):
    """Performance figure (printed, not asserted): key press → new picture in the page."""
    w = explorer
    layer_group = w.dropdown("layer")
    lines = []
    for view in ("grid", "channel"):
        _ensure_view(w, view, "13-latency")
        # The first block (conv1: 64 channels of 113×113), at channel 0.
        if w.option_texts(layer_group)[0] != w.selected_text(layer_group):
            w.change(lambda: layer_group.select_option(index=0), f"13-latency-{view}-layer")
        if float(w.slider_handle().get_attribute("aria-valuenow") or 0) > 0:
            w.change(lambda: _press(w, "Home"), f"13-latency-{view}-home",
                     must_differ=())
        layer = w.selected_text(w.layer_select())
        to_src, to_load = _time_presses(w, LATENCY_PRESSES)
        line = (
            f"slider key press -> new picture, {view} view of {layer}, {len(to_load)} presses: "
            f"median {statistics.median(to_load):.0f} ms, p90 {_p90(to_load):.0f} ms "
            f"(src set: median {statistics.median(to_src):.0f} ms, p90 {_p90(to_src):.0f} ms; "
            f"min {min(to_load):.0f}, max {max(to_load):.0f})"
        )
        lines.append(line)
        print("\n" + line)
    w.screenshot("14-after-latency")
    w.assert_no_error("14-after-latency")
    (artifacts / "latency.txt").write_text(
        "Voilà, headless Chromium, 127.0.0.1; timed in the page from keydown to the new "
        "<img> loaded (target: median <= 150 ms)\n" + "\n".join(lines) + "\n"
    )


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
