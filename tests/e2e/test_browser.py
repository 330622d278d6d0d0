"""The CompareExplorer and the FilterExplorer (anywidgets whose pages draw) in headless Chromium.

- Their modules on a bare page, fed the widget's state by a stand-in for anywidget's model (no
  kernel, no server): every picture the page draws equals the one Python draws (``pngs``)
  within a level of the colour table, and the captions and stats lines are the same text.
- The CompareExplorer live in Voilà (``fixtures/compare.ipynb``: SqueezeNet with random
  weights, and a label showing the channel Python holds): ArrowRight flips drawn in the page
  with no kernel message over 4 KB, the last channel reaching Python, the *largest difference*
  button, another block of layers (one kernel round trip, the page busy meanwhile).
- The same notebook in JupyterLab, run from the Run menu.

Every wait is on the page's own state (``data-version`` counts the pictures drawn,
``data-shown`` says what is shown, ``aw-busy`` marks a layer on its way), never a sleep.
Screenshots: ``artifacts/e2e/compare-*.png``, ``filters-*.png``, ``voila-compare-*.png``,
``lab-compare-*.png``.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ._view import CHANGE_TIMEOUT, View
from .conftest import FIXTURES, lab_server, new_page, voila_server
from .test_explorer_browser import _start_kernel

pytestmark = pytest.mark.e2e

COMPARE_NOTEBOOK = FIXTURES / "compare.ipynb"
FILTERS_NOTEBOOK = FIXTURES / "filters.ipynb"
#: Seconds a page may take to show the widget (kernel start, torch import, model load).
RENDER_TIMEOUT = 150.0
#: A kernel message bigger than this carries pictures (the goal during flips: none).
BIG_FRAME = 4096
#: What each page's data-shown lists.
COMPARE_KEYS = ("layer", "stage", "channel", "cmap", "contrast")
FILTER_KEYS = ("layer", "filter", "input", "cmap")

# --------------------------------------------------------------------------- the bare page

_HARNESS = """<!doctype html><meta charset="utf-8"><style>%(css)s</style><div id="host"></div>
<script id="aw-state" type="application/json">%(state)s</script>
<script type="module">
%(esm)s
const raw = JSON.parse(document.getElementById("aw-state").textContent);
const decode = (v) => {
  if (!v || v.$bytes === undefined) return v;
  const b = atob(v.$bytes), a = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i++) a[i] = b.charCodeAt(i);
  return new DataView(a.buffer);
};
const state = {}, listeners = new Map();
Object.keys(raw).forEach((k) => { state[k] = decode(raw[k]); });
const model = {  // what anywidget gives a module, without a kernel
  get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes: () => {}, send: () => {},
  on: (ev, f) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(f); },
  off: (ev, f) => { const l = listeners.get(ev) || [], i = l.indexOf(f); if (i >= 0) l.splice(i, 1); },
};
window.awPut = (values) => {  // changes from Python: set, then tell the module
  Object.entries(values).forEach(([k, v]) => { state[k] = decode(v); });
  Object.keys(values).forEach((k) => (listeners.get("change:" + k) || []).slice().forEach((f) => f()));
};
window.awModule.render({model: model, el: document.getElementById("host")});
</script>"""




def file_page(browser: Any, console: list[str], width: int, height: int) -> tuple[Any, Any]:
    """A fresh context and page that may read file:, data: and blob: URLs only."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                  else (console.append(f"refused: {r.request.url}"), r.abort()))
    page = context.new_page()
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.on("console", lambda m: console.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    return context, page


def _state(widget: Any, names: list[str]) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(widget, name)
        if isinstance(value, (bytes, memoryview)):
            value = {"$bytes": base64.b64encode(bytes(value)).decode()}
        out[name] = value
    return out


def module_page(widget: Any, path: Path) -> Path:
    """A page that runs ``widget``'s module over its synced state (a file, no server)."""
    esm = re.sub(r"export default (\w+);\s*$", r"window.awModule = \1;", widget._esm.rstrip())
    private = ("_meta", "_layer", "_levels", "_pictures", "_data", "_message")
    names = [n for n in widget.keys if not n.startswith("_") or n in private]
    names = [n for n in names if n not in ("layout", "tabbable", "tooltip", "comm")]
    state = json.dumps(_state(widget, names)).replace("</", "<\\/")
    path.write_text(_HARNESS % {"css": widget._css, "state": state, "esm": esm}, encoding="utf-8")
    return path


def _png_rgb(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _close(got: np.ndarray, want: np.ndarray, cmap: str, what: str) -> None:
    """Equal within one step of ``cmap``'s colour table (a level apart)."""
    from actwidgets import pixels

    lut = pixels.colormap_lut(cmap).astype(int)
    step = int(np.abs(np.diff(lut, axis=0)).max())
    assert got.shape == want.shape, f"{what}: {got.shape} != {want.shape}"
    gap = np.abs(got.astype(int) - want.astype(int))
    assert gap.max() <= step, f"{what}: {gap.max()} apart (a level is {step}), mean {gap.mean():.3f}"


@pytest.fixture(scope="module")
def squeezenet():
    import actwidgets as aw

    return aw.load_model("squeezenet", weights=None)


def test_compare_page_draws_pythons_pictures(browser, squeezenet, tmp_path, artifacts):
    import actwidgets as aw

    c = aw.CompareExplorer(squeezenet, "face", "face_eye_closed", labels=("open", "closed"),
                           layer="fire6-relu_squeeze1x1", channel=4)
    console: list[str] = []
    context, page = file_page(browser, console, 1200, 1000)
    try:
        page.goto(module_page(c, tmp_path / "compare.html").as_uri())
        w = View(page, ".aw-compare-view", COMPARE_KEYS, artifacts, "compare", console)
        w.wait_drawn(0)

        def check(step: str) -> None:
            state = dict(zip(COMPARE_KEYS, w.shown(), strict=True))
            c.channel, c.contrast, c.cmap = int(state["channel"]), state["contrast"], state["cmap"]
            for k, name in enumerate(("picture-a", "picture-b", "picture-diff")):
                _close(w.rgb(name), _png_rgb(c.pngs[k]), "RdBu_r" if k == 2 else c.cmap, f"{step} {name}")
            assert w.text("stats") == c.stats

        check("first")
        w.part("picture-a").focus()
        w.act(lambda: page.keyboard.press("ArrowRight"), "key", channel=5)
        check("key")
        w.act(lambda: w.part("largest").click(), "largest", channel=c.select_largest_difference())
        check("largest")
        w.act(lambda: w.part("contrast").locator("button[data-value=stretch]").click(), "stretch",
              contrast="stretch")
        w.act(lambda: w.part("cmap").select_option("viridis"), "viridis", cmap="viridis")
        check("stretch-viridis")
        w.assert_clean()
    finally:
        context.close()


def test_filter_page_draws_pythons_pictures(browser, squeezenet, tmp_path, artifacts):
    import actwidgets as aw

    f = aw.FilterExplorer(squeezenet, "conv1")
    console: list[str] = []
    context, page = file_page(browser, console, 1200, 1200)
    try:
        page.goto(module_page(f, tmp_path / "filters.html").as_uri())
        w = View(page, ".aw-filter-view", FILTER_KEYS, artifacts, "filters", console)
        w.wait_drawn(0)

        def check(step: str) -> None:
            layer, filt, inp, cmap = w.shown()
            assert (layer, int(filt), int(inp), cmap) == (f.layer, f.filter, f.input_channel, f.cmap)
            for name, key, table in (("filter-tiles", "tiles", "gray"),
                                     ("filter-weights", "weights", "RdBu_r"),
                                     ("filter-frequency", "frequency", f.cmap)):
                _close(w.rgb(name), _png_rgb(f.pngs[key]), table, f"{step} {key}")
            captions = f.captions
            assert (w.text("cap-weights"), w.text("cap-frequency"), w.text("stats")) == \
                (captions["weights"], captions["frequency"], captions["stats"])

        check("first")
        # A click on filter 10's tile (conv1: 8 × 8 tiles of 3 px and 1 px of padding, 10× enlarged).
        w.act(lambda: w.part("filter-tiles").click(position={"x": 105, "y": 65}), "click", filter=10)
        f.filter = 10
        check("click")
        w.act(lambda: page.keyboard.press("ArrowRight"), "key", filter=11)
        f.filter = 11
        check("key")
        w.act(lambda: w.part("input").select_option("1"), "input-G", input=1)
        f.input_channel = 1
        check("input")
        f.layer, f.filter, f.input_channel, f.cmap = "fire9-expand3x3", 200, 7, "inferno"
        state = _state(f, ["layer", "filter", "input_channel", "cmap", "_meta", "_layer", "_data"])
        w.act(lambda: page.evaluate("s => window.awPut(s)", state), "fire9", layer="fire9-expand3x3",
              filter=200)
        check("fire9")
        w.assert_clean()
    finally:
        context.close()


# --------------------------------------------------------------------------- live: Voilà and JupyterLab


def _flips_without_pictures(w: View, frames: list[int], start: int, presses: int) -> None:
    """ArrowRight ``presses`` times on the focused picture: each a new picture drawn in the page,
    no kernel message with pictures meanwhile."""
    w.part("picture-a").focus()
    big = sum(1 for n in frames if n > BIG_FRAME)
    for k in range(1, presses + 1):
        w.act(lambda: w.page.keyboard.press("ArrowRight"), f"key-{k}", channel=start + k)
    w.page.get_by_text(f"python channel {start + presses}").first.wait_for(timeout=CHANGE_TIMEOUT * 1000)
    sent = [n for n in frames if n > BIG_FRAME][big:]
    assert not sent, f"kernel messages over {BIG_FRAME} bytes during {presses} flips: {sent}"


def drive_compare(w: View, frames: list[int]) -> None:
    """The steps of the live CompareExplorer, in any front end."""
    w.view.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
    w.wait_drawn(0, RENDER_TIMEOUT)
    w.page.screenshot(path=str(w.shots / f"{w.prefix}-01-rendered.png"))
    assert w.shown()[:3] == ["conv1", "pre", "0"]
    assert w.text("stats").startswith("conv1 (pre-ReLU) · channel 0 · one scale for both")
    assert w.part("banner").is_visible()  # random weights
    _flips_without_pictures(w, frames, 0, 3)
    # The largest difference: computed in the page from the layer's numbers, sent to Python.
    largest = w.view.evaluate("el => el.awCompare.largest()")
    assert largest >= 0
    w.act(lambda: w.part("largest").click(), "02-largest", channel=largest)
    w.page.get_by_text(f"python channel {largest}").first.wait_for(timeout=CHANGE_TIMEOUT * 1000)
    # Another block: the kernel sends that layer once; the page is busy until it is in.
    big = sum(1 for n in frames if n > BIG_FRAME)
    shown = w.act(lambda: w.part("group").select_option(label="fire6 (7)"), "03-layer",
                  layer="fire6-squeeze1x1")
    assert shown[:2] == ["fire6-squeeze1x1", "pre"]
    layer_frames = [n for n in frames if n > BIG_FRAME][big:]
    # both maps, 16 bits
    assert len(layer_frames) == 1 and layer_frames[0] > 2 * 2 * 48 * 14 * 14, layer_frames
    assert w.text("stats").startswith("fire6-squeeze1x1 (pre-ReLU)")
    w.act(lambda: w.part("stage").locator("button[data-value=post]").click(), "04-stage", stage="post")
    w.act(lambda: w.part("cmap").select_option("viridis"), "05-cmap", cmap="viridis")
    w.assert_clean()


def _count_frames(page: Any) -> list[int]:
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(len(data))))
    return frames


def test_compare_explorer_in_voila(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(COMPARE_NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, width=1300, height=1400)
        try:
            frames = _count_frames(page)
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            view = View(page, ".aw-compare-view", COMPARE_KEYS, artifacts, "voila-compare", console)
            drive_compare(view, frames)
        finally:
            context.close()
            server.remember_children()


def test_filter_explorer_in_voila(browser, e2e_home, artifacts):
    """The live FilterExplorer: filter flips drawn in the page (no kernel message with pictures),
    Python following; a layer change sends that layer's weights once."""
    console: list[str] = []
    with voila_server(FILTERS_NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, width=1300, height=1400)
        try:
            frames = _count_frames(page)
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            w = View(page, ".aw-filter-view", FILTER_KEYS, artifacts, "voila-filters", console)
            w.view.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
            w.wait_drawn(0, RENDER_TIMEOUT)
            assert w.shown()[:2] == ["conv1", "0"] and w.part("banner").is_visible()
            page.get_by_text("python filter 0").first.wait_for(timeout=RENDER_TIMEOUT * 1000)
            w.part("filter-tiles").focus()
            big = sum(1 for n in frames if n > BIG_FRAME)
            for k in (1, 2, 3):
                w.act(lambda: page.keyboard.press("ArrowRight"), f"key-{k}", filter=k)
            page.get_by_text("python filter 3").first.wait_for(timeout=CHANGE_TIMEOUT * 1000)
            sent = [n for n in frames if n > BIG_FRAME][big:]
            assert not sent, f"kernel messages over {BIG_FRAME} bytes during 3 flips: {sent}"
            group = w.part("group")
            fire9 = group.evaluate("s => [...s.options].find(o => o.text.startsWith('fire9')).value")
            w.act(lambda: group.select_option(fire9), "layer", layer="fire9-squeeze1x1")
            layer_frames = [n for n in frames if n > BIG_FRAME][big:]
            # fire9-squeeze1x1's weights: 64 filters of 512×1×1 float32, sent once
            assert len(layer_frames) == 1 and layer_frames[0] > 64 * 512 * 4, layer_frames
            w.assert_clean()
        finally:
            context.close()
            server.remember_children()


@pytest.fixture(scope="module")
def lab(browser, e2e_home, artifacts):
    with lab_server([COMPARE_NOTEBOOK], e2e_home, artifacts) as server:
        yield server


#: Run All is asked again (at most this many times in all) when JupyterLab dropped it: every
#: prompt back to ``[ ]`` and no widget (seen when the kernel's websocket reconnects meanwhile).
RUN_ALL_TRIES = 3
_DROPPED = """() => {
  const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
  return p.length > 0 && p.every(t => /\\[\\s*\\]/.test(t)); }"""
_STARTED = ("() => [...document.querySelectorAll('.jp-InputPrompt')]"
            ".some(p => /\\[[*0-9]/.test(p.textContent))")


def _accept_dialogs(page: Any, seen: list[str]) -> None:
    """Accept any dialog JupyterLab shows (a late "Select Kernel"), noting its text; bounded."""
    for _ in range(4):
        dialogs = page.locator(".jp-Dialog")
        n = dialogs.count()
        if not n or not dialogs.first.is_visible():
            return
        seen.append(dialogs.first.inner_text()[:200].replace("\n", " "))
        buttons = dialogs.first.locator("button.jp-mod-accept")
        (buttons.last if buttons.count() else dialogs.first.locator("button").last).click(force=True)
        page.wait_for_function(f"() => document.querySelectorAll('.jp-Dialog').length < {n}",
                               timeout=CHANGE_TIMEOUT * 1000)


def _run_until_shown(page: Any, selector: str) -> None:
    """Run > Run All Cells until ``selector`` is on the page, waiting on the page's state: the
    kernel idle in the status bar, then the widget, or every cell's prompt back to ``[ ]`` (the
    run was dropped: ask again). Dialogs are accepted on the way."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    seen: list[str] = []
    idle = "() => /\\|\\s*Idle\\b/.test((document.querySelector('#jp-main-statusbar') || {}).innerText || '')"
    for _ in range(RUN_ALL_TRIES):
        _accept_dialogs(page, seen)
        try:
            page.wait_for_function(idle, timeout=RENDER_TIMEOUT * 1000)
        except PlaywrightTimeout:
            continue
        _accept_dialogs(page, seen)
        page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Run$")).first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:  # the run started: a prompt shows [*] or a number
            page.wait_for_function(_STARTED, timeout=CHANGE_TIMEOUT * 1000)
        except PlaywrightTimeout:
            continue
        page.wait_for_function(f"() => !!document.querySelector({selector!r}) || ({_DROPPED})()",
                               timeout=RENDER_TIMEOUT * 1000)
        if page.locator(selector).count():
            return
    raise AssertionError(f"JupyterLab did not run the cells in {RUN_ALL_TRIES} tries; dialogs: {seen}")


def test_compare_explorer_in_jupyterlab(browser, lab, artifacts):
    console: list[str] = []
    context, page = new_page(browser, console, width=1400, height=1600)
    try:
        frames = _count_frames(page)
        _start_kernel(lab.url, COMPARE_NOTEBOOK.name)
        page.goto(f"{lab.url}/lab/tree/{COMPARE_NOTEBOOK.name}", timeout=RENDER_TIMEOUT * 1000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=RENDER_TIMEOUT * 1000)
        try:
            _run_until_shown(page, ".aw-compare-view")
        except Exception:
            page.screenshot(path=str(artifacts / "lab-compare-RUN-FAILED.png"))
            raise
        w = View(page, ".aw-compare-view", COMPARE_KEYS, artifacts, "lab-compare", console)
        try:
            drive_compare(w, frames)
        except Exception as exc:
            page.screenshot(path=str(artifacts / "lab-compare-FAILED.png"))
            raise AssertionError(f"{exc}\nserver log:\n{lab.log_tail()}\nconsole: {console[-10:]}") from None
        w.view.screenshot(path=str(artifacts / "compare.png"))
    finally:
        context.close()
        lab.remember_children()
