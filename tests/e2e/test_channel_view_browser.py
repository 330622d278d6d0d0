"""ChannelView following an ActivationExplorer in Voilà: a click on a grid tile picks that
channel in the explorer, and the view shows the same channel's patches."""

from __future__ import annotations

import re

import pytest

from .conftest import FIXTURES, new_page, voila_server
from .test_explorer_browser import CHANGE_TIMEOUT, RENDER_TIMEOUT, Explorer

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "channel_view.ipynb"


def test_a_click_on_a_tile_shows_that_channel_in_the_view(browser, e2e_home, artifacts):
    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1700)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            w = Explorer(page, artifacts, "voila-channel-view", console)
            view = page.locator(".aw-channel-view").first
            w.view.wait_for(state="attached", timeout=RENDER_TIMEOUT * 1000)
            w.wait_drawn(0, RENDER_TIMEOUT)
            view.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
            title = view.locator(".widget-html").filter(has_text=re.compile(r"channel \d+")).first
            assert "channel 0" in title.inner_text() and w.shown()["layer"] == "conv1"
            before = view.locator("img.widget-image").first.get_attribute("src")
            # The explorer's page picks the tile's channel; Python's explorer follows (debounced),
            # and the view follows Python's explorer.
            assert w.act(lambda: w.click_tile(21), "02-clicked")["channel"] == "21"
            page.wait_for_function("t => t.innerText.includes('channel 21')",
                                   arg=title.element_handle(), timeout=CHANGE_TIMEOUT * 1000)
            page.wait_for_function("([i, old]) => i.getAttribute('src') !== old",
                                   arg=[view.locator("img.widget-image").first.element_handle(), before],
                                   timeout=CHANGE_TIMEOUT * 1000)
            assert w.error() == ""
            page.screenshot(path=str(artifacts / "voila-channel-view-clicked.png"), full_page=True)
        finally:
            context.close()
            server.remember_children()
