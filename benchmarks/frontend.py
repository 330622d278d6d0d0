"""Channel-flip and layer-change latency of the ActivationExplorer in Chromium: the live widget
in Voilà (kernel on this machine) and the exported page from file://, in the same run.

A script that prints, not a test::

    TORCH_HOME=../shared/torch-home PYTHONPATH=. python benchmarks/frontend.py

The harness of issue 20: the explorer in its one-channel view on SqueezeNet's ``conv1`` (64
channels of 113×113, random weights), the picture focused, 20 ArrowRight presses; each flip is
timed in the page from the keydown's time stamp (taken by a listener added before any page
script, ahead of the module's own) to the first animation frame after the module drew the new
picture (its ``data-version`` changed; a later redraw, such as the kernel's echo, is not
counted). The baseline, timed the same way in the same run: a minimal anywidget (a canvas and a
range input, ``benchmarks/fixtures/minimal_anywidget.ipynb``) in Voilà. Kernel frames over 4 KB
received during the flips are counted (pictures; the goal is none). A layer change (the layer
picker, ``fire2-squeeze1x1`` → ``conv1``) is timed from the ``change`` event to the first frame
with the new layer drawn, and the bytes the kernel sent for it are summed, beside the PNGs the
widget sent before issue 20 (one per flip: ``pixels.render_channel`` of a channel, or the grid,
as PNG). The CompareExplorer (``tests/e2e/fixtures/compare.ipynb``: two images, three pictures
per flip) gets the same flips and layer change in Voilà; the bytes the CompareExplorer and the
FilterExplorer send per layer change are listed for SqueezeNet's fire6 layers.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FLIPS = 20
#: Run before any script of the page: the key's (or the picker's) time stamp, taken in the
#: window's capture phase ahead of the module's own listener there, which draws and stops the
#: event (a listener added later would run after the drawing).
_INIT = """
window.addEventListener('keydown', (e) => { window.__awT0 = e.timeStamp; }, true);
window.addEventListener('change', (e) => { window.__awT0 = e.timeStamp; }, true);
"""
#: The first picture drawn after the key (not busy) is timed to the next animation frame; a
#: later redraw (the kernel's echo) is not, the time stamp being used once.
_INSTALL = """view => {
  if (window.__awObserver) window.__awObserver.disconnect();  // one timing at a time
  const m = window.__aw = {times: [], version: +view.dataset.version};
  window.__awT0 = null;
  window.__awObserver = new MutationObserver(() => {
    const v = +view.dataset.version;
    if (v === m.version || view.classList.contains('aw-busy')) return;
    m.version = v;
    const t0 = window.__awT0;
    if (t0 === null || t0 === undefined) return;
    window.__awT0 = null;
    requestAnimationFrame(() => { m.times.push(performance.now() - t0); });
  });
  window.__awObserver.observe(view, {attributes: true, attributeFilter: ['data-version', 'class']});
}"""


def _flips(page, view, frames: list[int]) -> tuple[list[float], int]:
    """FLIPS ArrowRight presses on the focused picture: latencies (ms), big kernel frames."""
    page.evaluate(_INSTALL, view.element_handle())
    view.locator(".aw-picture").focus()
    big_before = sum(1 for n in frames if n > 4096)
    for k in range(FLIPS):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => window.__aw.times.length >= {k + 1}")
    page.wait_for_timeout(400)  # the debounced channel reaches the kernel: count its answer too
    return page.evaluate("() => window.__aw.times"), sum(1 for n in frames if n > 4096) - big_before


def _pick_group(view, prefix: str) -> None:
    """Pick the layer group whose label starts with ``prefix`` (``"conv1 ("``)."""
    group = view.locator(".aw-group")
    find = "(s, p) => [...s.options].find(o => o.text.startsWith(p)).value"
    group.select_option(group.evaluate(find, prefix))


def _layer_change(page, view, frames: list[int], at: int = 1) -> tuple[float, int]:
    """fire2-squeeze1x1 -> conv1 through the pickers: ms to the frame with conv1, bytes sent
    (``at``: where data-shown holds the layer)."""
    _pick_group(view, "fire2 (")
    page.wait_for_function(f"v => v.dataset.shown.split('|')[{at}] === 'fire2-squeeze1x1'"
                           " && !v.classList.contains('aw-busy')", arg=view.element_handle())
    page.evaluate(_INSTALL, view.element_handle())
    before = sum(frames)
    _pick_group(view, "conv1 (")
    page.wait_for_function("() => window.__aw.times.length >= 1", timeout=60_000)
    page.wait_for_timeout(200)
    return page.evaluate("() => window.__aw.times[0]"), sum(frames) - before


def _old_png_bytes() -> tuple[int, int]:
    """What the widget sent before issue 20 on conv1: a channel-view PNG (per flip) and a grid PNG."""
    import actwidgets as aw
    from actwidgets import pixels
    from actwidgets.widgets import _parts

    net = aw.load_model("squeezenet", weights=None)
    acts = aw.activations(net, aw.sample_image("face"), "conv1")
    channel = statistics.median(len(_parts.to_png(pixels.render_channel(acts[c], size=net.input_size)))
                                for c in range(FLIPS))
    grid = len(_parts.to_png(pixels.render_grid(acts, selected=0)))
    return int(channel), grid


def _fire6_bytes() -> list[str]:
    """What the CompareExplorer and the FilterExplorer send per layer change on fire6."""
    import actwidgets as aw

    net = aw.load_model("squeezenet", weights=None)
    c = aw.CompareExplorer(net, "face", "face_eye_closed")
    f = aw.FilterExplorer(net, "conv1")
    lines = []
    for layer in ("fire6-squeeze1x1", "fire6-expand1x1", "fire6-expand3x3"):
        c.layer = f.layer = layer
        lines.append(f"  {layer:<18} CompareExplorer {len(c._levels) / 1e3:7.1f} KB "
                     f"({'×'.join(map(str, c._layer['shape']))} ×2 images, 16 bits), "
                     f"FilterExplorer {len(f._data) / 1e3:7.1f} KB "
                     f"({'×'.join(map(str, f._layer['shape']))} float32)")
    return lines


def _open(browser, url: str, selector: str) -> tuple:
    """A new page on ``url``, its widget's view (``selector``) drawn once, and the list the
    sizes of the kernel's websocket frames go to."""
    page = _new_page(browser)
    frames: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda data: frames.append(len(data))))
    page.goto(url + "/", timeout=180_000)
    view = page.locator(selector).first
    view.wait_for(state="attached", timeout=180_000)
    page.wait_for_function("v => +v.dataset.version > 0", arg=view.element_handle(), timeout=180_000)
    return page, view, frames


def _compare_in_voila(browser, home: Path, rows: list[str], layer: list[tuple]) -> None:
    from tests.e2e.conftest import FIXTURES, voila_server

    with voila_server(FIXTURES / "compare.ipynb", home, home) as server:
        page, view, frames = _open(browser, server.url, ".aw-compare-view")
        ms, big = _flips(page, view, frames)
        rows.append(_row("live CompareExplorer in Voilà (3 pictures)", ms, big))
        layer.append(("compare, Voilà", *_layer_change(page, view, frames, at=0)))
        page.close()
        server.remember_children()


def _minimal_in_voila(browser, home: Path, rows: list[str]) -> None:
    """The baseline: a minimal anywidget (canvas + range input, nothing of actwidgets) in Voilà,
    timed by the same harness."""
    from tests.e2e.conftest import voila_server

    with voila_server(REPO / "benchmarks" / "fixtures" / "minimal_anywidget.ipynb", home, home) as server:
        page, view, frames = _open(browser, server.url, ".aw-minimal-view")
        ms, big = _flips(page, view, frames)
        rows.append(_row("minimal anywidget in Voilà (the baseline)", ms, big))
        page.close()
        server.remember_children()


def _explorer_in_voila(browser, home: Path, page_path: Path, rows: list[str], layer: list[tuple]) -> None:
    """The explorer's flips and layer change, live in Voilà and in its exported page."""
    from tests.e2e.conftest import FIXTURES, voila_server

    with voila_server(FIXTURES / "explorer.ipynb", home, home) as server:
        page, view, frames = _open(browser, server.url, ".aw-explorer-view")
        view.locator(".aw-view button[data-value=channel]").click()
        ms, big = _flips(page, view, frames)
        rows.append(_row("live ActivationExplorer in Voilà", ms, big))
        layer.append(("live, Voilà", *_layer_change(page, view, frames)))
        exported = _new_page(browser)
        exported.goto(page_path.as_uri())
        view = exported.locator(".aw-explorer-view").first
        exported.wait_for_function("v => +v.dataset.version > 0", arg=view.element_handle())
        ms, _ = _flips(exported, view, [])
        rows.append(_row("exported page from file://", ms, None))
        layer.append(("exported page", *_layer_change(exported, view, [])))
        server.remember_children()


def _new_page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    page.add_init_script(_INIT)
    return page


def _row(name: str, ms: list[float], big: int | None) -> str:
    return (f"{name:<44} {statistics.median(ms):7.1f} {max(ms):7.1f} "
            f"{'-' if big is None else big:>8}")


def main() -> None:
    from playwright.sync_api import sync_playwright

    import actwidgets as aw
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

    home = Path(tempfile.mkdtemp(prefix="aw-frontend-"))
    rows, layer = [], []
    net = aw.load_model("squeezenet", weights=None)
    page_path = aw.export_html(net, "face", ["conv1", "relu_conv1", "fire2"], home / "page.html",
                               view="channel", verbose=False).path
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        _explorer_in_voila(browser, home, page_path, rows, layer)
        _compare_in_voila(browser, home, rows, layer)
        _minimal_in_voila(browser, home, rows)
        browser.close()
    channel_png, grid_png = _old_png_bytes()
    print(f"\nChannel flips, conv1 in the channel view, {FLIPS} ArrowRight presses, headless Chromium "
          "(key -> first frame with the new picture):")
    print(f"{'path':<44} {'median':>7} {'max':>7} {'frames>4KB':>8}")
    print("\n".join(rows))
    print("\nLayer change fire2-squeeze1x1 -> conv1 (change event -> first frame with conv1):")
    for name, ms, sent in layer:
        print(f"  {name:<16} {ms:7.1f} ms, {sent / 1e6:.2f} MB from the kernel")
    print(f"\nBefore issue 20 the widget sent a PNG per flip: conv1 channel view {channel_png / 1e3:.0f} KB "
          f"(x{FLIPS} flips = {FLIPS * channel_png / 1e6:.2f} MB), grid {grid_png / 1e3:.0f} KB; now a layer "
          "change sends both contrasts' 8-bit levels once and a flip sends only the channel (debounced).")
    print("\nSent per layer change (kernel -> page), SqueezeNet fire6:")
    print("\n".join(_fire6_bytes()))


if __name__ == "__main__":
    main()
