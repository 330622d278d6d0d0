"""ChannelView (an anywidget drawn by ``channelview.js``) following an ActivationExplorer in
Voilà and in marimo: a click on a grid tile picks that channel in the explorer's page, and the view draws the
same channel's patches (sent once as raw RGB) and activation (8-bit levels, blended in the
page); then the feature visualisation is started and stopped from the view's page, its
progress shown as it goes. Every wait is on the page's DOM: ``data-version`` counts the view's
drawings, ``data-shown`` says what is shown (``layer|stage|channel|image``), ``data-run`` and
``data-step`` follow the drawing under way."""

from __future__ import annotations

import pytest

from .conftest import FIXTURES, marimo_server, new_page, voila_server
from .test_explorer_browser import (
    CHANGE_TIMEOUT,
    KNOWN_PAGE_ERRORS,
    RENDER_TIMEOUT,
    Explorer,
)

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "channel_view.ipynb"
MARIMO = FIXTURES / "channel_view_marimo.py"
#: Seconds the feature visualisation may take to make its first steps (SqueezeNet on a CPU).
RUN_TIMEOUT = 90.0


class View:
    """The ChannelView's page: its parts, what it shows, waits on its drawings."""

    def __init__(self, page) -> None:
        self.page = page
        self.root = page.locator(".aw-channelview").first

    def part(self, name: str):
        return self.root.locator(f".aw-cv-{name}").first

    def data(self, key: str) -> str:
        return self.root.evaluate(f"el => el.dataset.{key} || ''")

    def shown(self) -> list[str]:
        return self.data("shown").split("|")

    def wait(self, condition_js: str, timeout: float = CHANGE_TIMEOUT) -> None:
        """Wait until ``condition_js(root)`` holds."""
        self.page.wait_for_function(f"el => ({condition_js})(el)", arg=self.root.element_handle(),
                                    timeout=timeout * 1000)

    def pixels(self, name: str) -> str:
        return self.part(name).evaluate("c => c.toDataURL()")


def drive(page, artifacts, console: list[str], where: str) -> None:
    """A click on the explorer's tile 21, followed by the view; its drawing started and stopped."""
    w, view = Explorer(page, artifacts, f"{where}-channel-view", console), View(page)
    w.view.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
    w.wait_drawn(0, RENDER_TIMEOUT)
    view.root.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
    view.wait("el => +(el.dataset.version || 0) > 0", RENDER_TIMEOUT)
    assert view.shown()[:3] == ["conv1", "pre", "0"] and w.shown()["layer"] == "conv1"
    assert view.part("title").inner_text() == "conv1 (pre-ReLU), channel 0"
    assert view.root.locator(".aw-banner").is_visible()  # random weights
    size = view.part("patches").evaluate("c => [c.width, c.height]")
    assert size == [3 * 98 + 2, 100]  # three 96 px squares, 2 px apart
    assert view.part("patch-note").inner_text().startswith("1: image ")
    assert view.part("act-note").inner_text().startswith(view.shown()[3] + ": max ")
    patches, version = view.pixels("patches"), int(view.data("version"))

    # The explorer's page picks the tile's channel; Python's explorer follows (debounced),
    # the view follows Python's explorer, and its page draws the channel's patches.
    assert w.act(lambda: w.click_tile(21), "02-clicked")["channel"] == "21"
    view.wait(f"el => +el.dataset.version > {version} && el.dataset.shown.split('|')[2] === '21'")
    assert view.part("title").inner_text() == "conv1 (pre-ReLU), channel 21"
    assert view.pixels("patches") != patches
    page.screenshot(path=str(w.shots / f"{where}-channel-view-clicked.png"), full_page=True)

    # The feature visualisation: started from the page, its progress shown, stopped.
    assert view.part("fv").is_hidden() and view.part("visualise").is_enabled()
    view.part("visualise").click()
    view.wait("el => el.dataset.run === 'running' && +el.dataset.step >= 2", RUN_TIMEOUT)
    assert view.part("visualise").is_disabled() and view.part("progress").is_visible()
    assert "step" in view.part("fv-note").inner_text()
    view.part("stop").click()
    view.wait("el => el.dataset.run === 'idle' && !el.querySelector('.aw-cv-fv').hidden", RUN_TIMEOUT)
    assert view.part("fv").evaluate("c => [c.width, c.height]") == [128, 128]  # the picture so far
    assert view.part("fv-note").inner_text().startswith("stopped after ")
    assert view.part("visualise").is_disabled()  # this channel's picture is here
    page.screenshot(path=str(w.shots / f"{where}-channel-view-visualised.png"), full_page=True)
    assert w.error() == "" and view.root.locator(".aw-error").is_hidden()
    errors = [c for c in console if c.startswith("pageerror") and c not in KNOWN_PAGE_ERRORS]
    assert not errors, console


def test_the_view_follows_the_explorer_in_voila(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1700)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            drive(page, artifacts, console, "voila")
        finally:
            context.close()
            server.remember_children()


def test_the_view_follows_the_explorer_in_marimo(browser, e2e_home, artifacts):
    console: list[str] = []
    with marimo_server(MARIMO, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, width=1400, height=1700)
        try:
            page.goto(server.url + "/", timeout=RENDER_TIMEOUT * 1000)
            drive(page, artifacts, console, "marimo")
        finally:
            context.close()
            server.remember_children()
