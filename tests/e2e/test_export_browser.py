"""The exported explorer page (issue 14) in headless Chromium, offline, from ``file://``.

Every request that is not ``file:`` or ``data:`` is aborted (and counted: none may happen).
The page exported with ``aw.export_html`` is driven through its controls: image, layer group
and layer, channel (slider by mouse and keyboard, the arrow keys on the picture, a click on a
grid tile, the strongest-channel button), stage, view, colormap and contrast. Each change must
draw a new picture (the page's ``data-version`` and ``data-shown`` attributes, and different
canvas pixels) with no console error. The canvas is compared with the widget's own renders; how
long a channel flip takes is benchmarks/frontend.py's figure, never a test's. Then a notebook that displays a
static explorer is executed and converted with ``nbconvert --to html`` and the same checks run
inside its iframe. Screenshots go to ``artifacts/e2e/`` (ignored by git); the README's picture
is made by ``scripts/readme_pictures.py``, never by a test.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import server_env

pytestmark = pytest.mark.e2e

LAYERS_IN_NOTEBOOK = ["conv1", "relu_conv1", "pool1", "fire6"]
FLIPS = 40  # key presses per view

_STATE_JS = """() => { const r = document.querySelector('.aw-explorer-view');
  return {version: +(r && r.dataset.version || 0), shown: r && r.dataset.shown || ''}; }"""
_DRAWN_JS = """v => { const r = document.querySelector('.aw-explorer-view');
  return r && +(r.dataset.version || 0) > v && !r.classList.contains('aw-busy'); }"""
_DIGEST_JS = """async () => { const c = document.querySelector('.aw-picture');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const h = await crypto.subtle.digest('SHA-256', d);
  return Array.from(new Uint8Array(h)).map(x => x.toString(16).padStart(2, '0')).join(''); }"""
_PIXELS_JS = "() => document.querySelector('.aw-picture').toDataURL('image/png')"


def _net():
    """SqueezeNet with its trained weights where TORCH_HOME holds them, else random ones."""
    import warnings

    import actwidgets as aw

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return aw.load_model("squeezenet")
    except aw.WeightsUnavailableError:
        return aw.load_model("squeezenet", weights=None)


@pytest.fixture(scope="module")
def net():
    return _net()


@pytest.fixture(scope="module")
def exported(net, tmp_path_factory):
    import actwidgets as aw

    path = tmp_path_factory.mktemp("export") / "squeezenet.html"
    result = aw.export_html(net, ["face", "cat"], None, path)
    print(f"\nexported {result}")
    return path


def offline_page(browser: Any, console: list[str], width: int = 1200, height: int = 1000):
    """A page that may load ``file:`` and ``data:`` URLs only; errors and refused requests go
    to ``console``."""
    context = browser.new_context(viewport={"width": width, "height": height})

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(("file:", "data:")):
            r.continue_()
        else:
            console.append(f"refused: {url}")
            r.abort()

    context.route("**/*", route)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.on("console", lambda m: console.append(f"console.{m.type} at {m.location.get('url', '')}: {m.text}")
            if m.type == "error" else None)
    return context, page


class StaticPage:
    """The explorer page in a page or an iframe (``frame``): act, wait for the new picture,
    check it changed and that nothing went wrong."""

    def __init__(self, page: Any, frame: Any, console: list[str], artifacts: Path, prefix: str) -> None:
        self.page, self.frame, self.console = page, frame, console
        self.artifacts, self.prefix = artifacts, prefix

    def state(self) -> dict[str, Any]:
        s = self.frame.evaluate(_STATE_JS)
        keys = ("image", "layer", "stage", "channel", "view", "cmap", "contrast")
        if not s["shown"]:
            return s
        return {"version": s["version"], **dict(zip(keys, s["shown"].split("|"), strict=False))}

    def wait_ready(self, timeout: float = 60_000) -> dict[str, Any]:
        self.frame.wait_for_function(_DRAWN_JS, arg=0, timeout=timeout)
        return self.state()

    def digest(self) -> str:
        return self.frame.evaluate(_DIGEST_JS)

    def pixels(self) -> np.ndarray:
        from PIL import Image

        uri = self.frame.evaluate(_PIXELS_JS)
        with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
            return np.asarray(im.convert("RGBA"))

    def change(self, action: Any, step: str, **expect: Any) -> dict[str, Any]:
        """Do ``action``; wait for the next drawing; check ``expect`` (state values), new
        pixels and a clean console; screenshot."""
        before, digest = self.state(), self.digest()
        action()
        self.frame.wait_for_function(_DRAWN_JS, arg=before["version"], timeout=30_000)
        after = self.state()
        for key, value in expect.items():
            assert after[key] == str(value), f"{step}: {key} is {after[key]!r}, expected {value!r}"
        assert self.digest() != digest, f"{step}: the picture did not change"
        self.assert_clean(step)
        self.page.screenshot(path=str(self.artifacts / f"{self.prefix}-{step}.png"))
        return after

    def assert_clean(self, step: str) -> None:
        assert not self.console, f"{step}: {self.console}"
        error = self.frame.locator(".aw-error")
        assert error.is_hidden(), f"{step}: the page shows an error: {error.inner_text()}"

    def choose(self, select: str, label: str) -> None:
        self.frame.locator(select).select_option(label=label)

    def press(self, key: str, on: str = ".aw-picture") -> None:
        self.frame.locator(on).focus()
        self.page.keyboard.press(key)

    def click_tile(self, channel: int) -> None:
        """Click the middle of ``channel``'s tile in the grid, in CSS pixels."""
        box = self.frame.evaluate(
            """c => { const L = window.awStatic.view.awExplorer.layer(), [rows, cols, k, pad] = L.grid;
              const cv = document.querySelector('.aw-picture'), r = cv.getBoundingClientRect();
              const x = pad + (c % cols) * (L.shape[2] * k + pad) + L.shape[2] * k / 2;
              const y = pad + Math.floor(c / cols) * (L.shape[1] * k + pad) + L.shape[1] * k / 2;
              return {x: x * r.width / cv.width, y: y * r.height / cv.height}; }""", channel)
        self.frame.locator(".aw-picture").click(position=box)


def _walk(w: StaticPage, strongest: int | None = None) -> None:
    """Every control changes the picture, in order."""
    s = w.state()
    w.change(lambda: w.press("ArrowRight", on=".aw-channel"), "slider-key", channel=int(s["channel"]) + 1)
    w.change(lambda: w.press("ArrowRight"), "arrow-right", channel=int(s["channel"]) + 2)
    w.change(lambda: w.click_tile(9), "tile-click", channel=9, view="grid")
    cols = w.frame.evaluate("() => window.awStatic.view.awExplorer.layer().grid[1]")
    w.change(lambda: w.press("ArrowDown"), "arrow-down", channel=9 + cols)
    slider = w.frame.locator(".aw-channel").bounding_box()
    w.change(lambda: w.page.mouse.click(slider["x"] + slider["width"] * 0.8,
                                        slider["y"] + slider["height"] / 2),
             "slider-mouse")
    w.change(lambda: w.frame.locator(".aw-stage button[data-value=post]").click(), "stage-post", stage="post")
    # Another block: its first layer, at its default stage; then another layer of the block.
    if w.state()["layer"].startswith("fire6"):
        group, first, other = "conv1 (3)", "conv1", "relu_conv1 · 64 ch · 113×113"
    else:
        group, first, other = "fire6 (7)", "fire6-squeeze1x1", "fire6-expand3x3 · 192 ch · 14×14"
    w.change(lambda: w.choose(".aw-group", group), "group", layer=first, stage="pre")
    w.change(lambda: w.choose(".aw-layer", other), "layer", layer=other.split(" ")[0])
    w.change(lambda: w.frame.locator(".aw-strongest").click(), "strongest",
             **({"channel": strongest} if strongest is not None else {}))
    w.change(lambda: w.choose(".aw-image", "cat"), "image-cat", image="cat")
    w.change(lambda: w.frame.locator(".aw-view button[data-value=channel]").click(), "view-channel",
             view="channel")
    w.change(lambda: w.choose(".aw-cmap", "jet"), "cmap-jet", cmap="jet")
    w.change(lambda: w.frame.locator(".aw-view button[data-value=overlay]").click(), "view-overlay",
             view="overlay")
    w.change(lambda: w.frame.locator(".aw-contrast button[data-value=stretch]").click(), "contrast",
             contrast="stretch")
    w.change(lambda: w.press("ArrowLeft"), "overlay-arrow-left")
    w.change(lambda: w.frame.locator(".aw-view button[data-value=grid]").click(), "view-grid", view="grid")
    n = w.frame.evaluate("() => window.awStatic.data.meta.layers.length")
    w.choose(".aw-group", f"all layers ({n})")  # the layer stays: nothing to draw
    w.change(lambda: w.choose(".aw-layer", "pool1 · 64 ch · 56×56"), "pool1", layer="pool1", stage="post")
    stage_buttons = w.frame.locator(".aw-stage button")
    assert all(stage_buttons.nth(i).is_disabled() for i in range(2)), "pool1 has one stage: the toggle is off"
    assert "no activation" in stage_buttons.first.get_attribute("title")


# --------------------------------------------------------------------------- the file


@pytest.fixture(scope="module")
def offline(browser, exported, artifacts):
    console: list[str] = []
    context, page = offline_page(browser, console)
    page.goto(exported.as_uri())
    w = StaticPage(page, page.main_frame, console, artifacts, "export")
    w.wait_ready()
    yield w
    context.close()


def test_exported_page_works_offline(offline, net):
    import actwidgets as aw

    w = offline
    first = w.state()
    assert first["layer"] == "conv1" and first["image"] == "face" and first["stage"] == "pre"
    caption = w.frame.locator(".aw-caption").inner_text()
    assert net.name in caption and net.weights in caption and "face" in caption
    assert w.frame.locator(".aw-banner").is_hidden() == net.pretrained
    fire6 = aw.activations(net, aw.sample_image("face"), "fire6-expand3x3", stage="pre")
    _walk(w, strongest=aw.strongest_channel(fire6))
    stats = w.frame.evaluate("() => document.querySelector('.aw-stats').textContent")
    assert stats.startswith("pool1 · 64×56×56")


_KEYS = ("image", "layer", "stage", "channel", "view", "cmap", "contrast")


def _set(w: StaticPage, **state: Any) -> None:
    """Drive the page to a state through its controls, waiting for each drawing."""
    for key, value in state.items():
        if w.state()[key] == str(value):
            continue
        if key in ("image", "cmap"):
            w.choose(f".aw-{key}", value)
        elif key == "layer":  # its block, then the layer
            group, label = w.frame.evaluate(
                "n => { const D = window.awStatic.data.meta, L = D.layers.find(l => "
                "l.name === n); return [D.groups[L.home].label, L.label]; }", value)
            w.choose(".aw-group", group)
            w.frame.locator(".aw-layer").select_option(label=label)
        elif key == "channel":
            w.frame.evaluate("c => { const s = document.querySelector('.aw-channel'); s.value = c;"
                             " s.dispatchEvent(new Event('input')); }", int(value))
        else:
            w.frame.locator(f".aw-{key} button[data-value={value}]").click()
        w.frame.wait_for_function(
            "([i, v]) => { const r = document.querySelector('.aw-explorer-view'); "
            "return !r.classList.contains('aw-busy') && (r.dataset.shown || '').split('|')[i] === v; }",
            arg=[_KEYS.index(key), str(value)])
    assert all(w.state()[k] == str(v) for k, v in state.items()), w.state()


def test_canvas_equals_the_widgets_render(offline, net):
    """The grid pixel for pixel; the channel and overlay views within a level or two (the page
    resizes the 8-bit levels, the widget the float values)."""
    import actwidgets as aw
    from actwidgets import pixels

    w, report = offline, []
    cases = (("fire2-expand3x3", "pre", 7, "minmax"), ("conv1", "post", 33, "stretch"),
             ("fire9-concat", "post", None, "minmax"))
    for layer, stage, channel, contrast in cases:
        acts = aw.activations(net, aw.sample_image("cat"), layer, stage=stage)
        channel = aw.strongest_channel(acts) if channel is None else channel
        _set(w, image="cat", layer=layer, stage=stage, channel=channel, contrast=contrast, view="grid",
             cmap="viridis")
        want = np.asarray(pixels.render_grid(acts, selected=channel, cmap="viridis", contrast=contrast))
        np.testing.assert_array_equal(w.pixels()[:, :, :3], want, err_msg=f"grid {layer} {stage} {channel}")
        _set(w, view="channel", cmap="gray")
        want = np.asarray(pixels.render_channel(acts[channel], size=net.input_size, cmap="gray",
                                                contrast=contrast))
        diff = np.abs(w.pixels()[:, :, :3].astype(int) - want)
        report.append(f"channel {layer} {contrast}: mean {diff.mean():.2f}, max {diff.max()}")
        assert diff.mean() < (1.0 if contrast == "minmax" else 6.0), report[-1]
        ch = acts[channel]
        if contrast != "minmax":
            ch = np.clip(ch, *pixels.stretchlim(ch))
        _set(w, view="overlay")
        want = pixels.overlay(net.image(aw.sample_image("cat")), ch, cmap="jet", alpha=0.5)
        diff = np.abs(w.pixels()[:, :, :3].astype(int) - want)
        report.append(f"overlay {layer} {contrast}: mean {diff.mean():.2f}, max {diff.max()}")
        assert diff.mean() < 1.5, report[-1]
    print("\nexported page against the widget's renders (levels of 255):\n  " + "\n  ".join(report))
    w.assert_clean("canvas-equals")


def test_every_key_press_flips_the_channel_in_every_view(offline):
    """40 ArrowRight presses on the picture: 40 flips drawn, the channel at 40, a new picture.
    How long a flip takes is measured by benchmarks/frontend.py, not asserted here."""
    w = offline
    _set(w, image="face", layer="conv1", stage="pre", channel=0, contrast="minmax", cmap="gray")
    for view in ("grid", "channel", "overlay"):
        _set(w, view=view, channel=0)
        start, digest = w.frame.evaluate("() => window.awStatic.flips.length"), w.digest()
        w.frame.locator(".aw-picture").focus()
        for _ in range(FLIPS):
            w.page.keyboard.press("ArrowRight")
        w.frame.wait_for_function(f"() => window.awStatic.flips.length >= {start + FLIPS}")
        w.frame.wait_for_function(_DRAWN_JS, arg=0)
        assert w.frame.evaluate("() => window.awStatic.flips.length") == start + FLIPS, view
        assert w.state()["channel"] == str(FLIPS) and w.state()["view"] == view
        assert w.digest() != digest, f"{view}: the picture did not change"
    w.assert_clean("flips")


def test_readable_at_phone_width(browser, exported, artifacts):
    console: list[str] = []
    context, page = offline_page(browser, console, width=390, height=844)
    try:
        page.goto(exported.as_uri())
        w = StaticPage(page, page.main_frame, console, artifacts, "export-phone")
        w.wait_ready()
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow} px wider than a phone"
        assert page.locator(".aw-picture").bounding_box()["width"] <= 390
        w.change(lambda: w.click_tile(3), "tile", channel=3)
        page.screenshot(path=str(artifacts / "export-phone.png"), full_page=True)
    finally:
        context.close()


def test_the_readme_view_draws_cleanly_and_small(browser, exported, artifacts, tmp_path):
    """The view of the README's picture (scripts/readme_pictures.py takes it): the outline of
    the strongest channel draws, nothing fails, and the picture fits in 300 kB."""
    from PIL import Image

    console: list[str] = []
    context, page = offline_page(browser, console, width=980, height=800)
    try:
        page.goto(exported.as_uri())
        w = StaticPage(page, page.main_frame, console, artifacts, "export-readme")
        w.wait_ready()
        _set(w, layer="fire2-relu_expand3x3", channel=0, cmap="inferno")
        drawn = w.state()["version"]
        w.frame.locator(".aw-strongest").click()  # the outline: wait for its drawing, not a time
        w.frame.wait_for_function(_DRAWN_JS, arg=drawn, timeout=30_000)
        shot = tmp_path / "exported_explorer.png"
        page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 980, "height": 800})
        with Image.open(shot) as im:
            small = im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
            small.save(shot, optimize=True)
        assert shot.stat().st_size <= 300_000
        w.assert_clean("readme")
    finally:
        context.close()


# --------------------------------------------------------------------------- a converted notebook


@pytest.fixture(scope="module")
def notebook_html(e2e_home):
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbconvert")
    folder = e2e_home / "static-notebook"
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("import actwidgets as aw\nnet = aw.load_model('squeezenet', weights=None)"),
        nbformat.v4.new_code_cell(
            f"aw.static_explorer(net, ['face', 'cat'], {LAYERS_IN_NOTEBOOK!r}, layer='fire6-squeeze1x1')"),
    ]
    path = folder / "lesson.ipynb"
    nbformat.write(nb, path)
    run = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
         "--ExecutePreprocessor.timeout=300", str(path)],
        cwd=folder, env=server_env(folder / "home"), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = folder / "lesson.html"
    assert "aw-static" in out.read_text(encoding="utf-8")
    return out


def test_converted_notebook_keeps_a_working_explorer(browser, notebook_html, artifacts):
    console: list[str] = []
    context, page = offline_page(browser, console, width=1200, height=1000)
    try:
        page.goto(notebook_html.as_uri())
        page.wait_for_selector("iframe.aw-static")
        frame = next(f for f in page.frames if f.url == "about:srcdoc")
        w = StaticPage(page, frame, [], artifacts, "notebook")
        first = w.wait_ready()
        assert first["layer"] == "fire6-squeeze1x1"
        # The converted page's own template asks a CDN for MathJax and require.js: refused,
        # and not ours. Nothing inside the explorer's frame may fail or ask for anything.
        ours = [m for m in console if "about:srcdoc" in m or "pageerror" in m]
        assert not ours, ours
        w.console = ours
        _walk(w)
        # The page tells the notebook its height (postMessage): the iframe shows all of it,
        # and shrinks with it (pool1's grid is shorter than conv1's).
        frame_el = page.locator("iframe.aw-static")
        content = frame.evaluate("() => document.body.getBoundingClientRect().height")
        page.wait_for_function("([f, h]) => Math.abs(f.getBoundingClientRect().height - h - 4) <= 2",
                               arg=[frame_el.element_handle(), content], timeout=10_000)
        refused = [m for m in console if m.startswith("refused")]
        print("\nconverted notebook: the explorer works in its iframe; the template's own requests "
              f"refused: {refused}")
        page.screenshot(path=str(artifacts / "notebook-converted.png"), full_page=True)
    finally:
        context.close()
