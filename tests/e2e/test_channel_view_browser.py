"""ChannelView following an ActivationExplorer in Voilà: a click on a grid tile picks that
channel in the explorer, and the view shows the same channel's patches."""

from __future__ import annotations

import re

import pytest

from .conftest import FIXTURES, new_page, voila_server
from .test_browser import CHANGE_TIMEOUT, RENDER_TIMEOUT, WidgetPage

pytestmark = pytest.mark.e2e

NOTEBOOK = FIXTURES / "channel_view.ipynb"


def test_a_click_on_a_tile_shows_that_channel_in_the_view(browser, e2e_home, artifacts):
    from actwidgets import pixels

    console: list[str] = []
    with voila_server(NOTEBOOK, e2e_home, artifacts) as server:
        context, page = new_page(browser, console, height=1700)
        try:
            page.goto(server.url + "/", wait_until="commit", timeout=RENDER_TIMEOUT * 1000)
            root = page.locator(".aw-explorer").first
            view = page.locator(".aw-channel-view").first
            w = WidgetPage(page, root, artifacts, "voila-channel-view", console, page.locator("body"))
            view.wait_for(state="visible", timeout=RENDER_TIMEOUT * 1000)
            w.wait_for_png(w.img(0))
            title = view.locator(".widget-html").filter(has_text=re.compile(r"channel \d+")).first
            assert "channel 0" in title.inner_text()
            layout = pixels.grid_layout(64, (113, 113))  # conv1
            img = w.img(0)
            natural, client = img.evaluate("i => [i.naturalWidth, i.clientWidth]")
            scale, css = natural // layout.width, client / natural
            x0, y0, x1, y1 = layout.box(21)
            before = view.locator("img.widget-image").first.get_attribute("src")
            img.click(position={"x": (x0 + x1) / 2 * scale * css, "y": (y0 + y1) / 2 * scale * css})
            page.wait_for_function("t => t.innerText.includes('channel 21')",
                                   arg=title.element_handle(), timeout=CHANGE_TIMEOUT * 1000)
            page.wait_for_function("([i, old]) => i.getAttribute('src') !== old",
                                   arg=[view.locator("img.widget-image").first.element_handle(), before],
                                   timeout=CHANGE_TIMEOUT * 1000)
            w.assert_no_error("02-clicked")
            page.screenshot(path=str(artifacts / "voila-channel-view-clicked.png"), full_page=True)
        finally:
            context.close()
            server.remember_children()
