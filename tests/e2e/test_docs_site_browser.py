"""The documentation site (``bash .ci/docs`` → docs/_build/html) in headless Chromium, offline.

A plain static server (``http.server`` on 127.0.0.1) serves the built site. Every HTML page of
the site is opened with every request that does not go to that server refused (and
recorded): no page may make one, print a console error or throw. Then the static explorer on
tutorial 01's page, inside its iframe, must draw and flip channels (slider key and arrow key).

The site is built before the tests by ``.ci/run``. Where it is missing the test skips, except
under ``CI=true``, where a missing site is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import HOST, REPO, new_page

pytestmark = pytest.mark.e2e

SITE = REPO / "docs" / "_build" / "html"
TUTORIAL = "tutorials/01_squeezenet_activations.html"


def _require_site() -> None:
    if (SITE / "index.html").is_file():
        return
    why = f"the documentation site is not built ({SITE} has no index.html): run `bash .ci/docs`"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why + " (under CI=true .ci/run builds it before the tests)")
    pytest.skip(why)


def site_pages() -> list[str]:
    """Every page of the site, as paths relative to its root (the explorers' pages aside: they
    are checked inside the tutorial pages that hold them)."""
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")
                  if "_static" not in p.relative_to(SITE).parts)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # no access log on stderr
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The site's base URL on a static server in a thread (stopped at the end)."""
    _require_site()
    handler = functools.partial(_Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_site_has_its_pages():
    _require_site()
    pages = set(site_pages())
    expected = {"index.html", "install.html", "tutorials.html", "api.html", "architecture.html",
                "benchmarks.html", "troubleshooting.html", TUTORIAL}
    assert expected <= pages, f"missing pages: {sorted(expected - pages)}"
    tutorials = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert {f"tutorials/{p.stem}.html" for p in tutorials} <= pages
    assert any(p.startswith("api/actwidgets.") for p in pages), "no API page generated from the docstrings"


def test_every_tutorial_page_has_an_explorer():
    _require_site()
    for page in sorted(SITE.glob("tutorials/*.html")):
        text = page.read_text(encoding="utf-8")
        framed = 'class="aw-static-page"' in text and "_static/explorers/" in text
        inline = 'class="aw-static"' in text and "srcdoc=" in text
        assert framed or inline, f"{page.name} has no static explorer"
        if framed:
            src = text.split('_static/explorers/', 1)[1].split('"', 1)[0]
            assert (SITE / "_static" / "explorers" / src).is_file(), f"{page.name}: {src} is missing"


_LOADED = re.compile(r"""<(?:script|img|iframe|source|embed)\b[^>]*\bsrc=["']([^"']+)|"""
                     r"""<link\b[^>]*\bhref=["']([^"']+)|@import\s+url\(["']?([^)"']+)|url\(["']?(https?:[^)"']+)""")


def test_no_page_refers_to_a_resource_elsewhere():
    """What a page loads (scripts, styles, pictures, frames, fonts) is on the site itself;
    links a reader may follow (``<a href>``) may go anywhere."""
    _require_site()
    outside = []
    for path in [*SITE.rglob("*.html"), *SITE.rglob("*.css")]:
        for groups in _LOADED.findall(path.read_text(encoding="utf-8", errors="replace")):
            url = next(g for g in groups if g)
            if url.startswith(("http:", "https:", "//")):
                outside.append(f"{path.relative_to(SITE)}: {url}")
    assert not outside, "\n".join(sorted(set(outside))[:40])


def test_every_page_loads_offline_without_errors(browser, site):
    problems = []
    for rel in site_pages():
        console: list[str] = []
        context, page = new_page(browser, console)
        try:
            page.goto(site + rel, wait_until="load")
            with contextlib.suppress(Exception):
                page.wait_for_load_state("networkidle", timeout=10_000)
        finally:
            context.close()
        problems += [f"{rel}: {line}" for line in console]
    assert not problems, "\n".join(problems)


_ROOT = "document.querySelector('.aw-explorer-view')"  # the widget's own module draws the page
_STATE = """() => { const r = document.querySelector('.aw-explorer-view');
  return {version: +r.dataset.version, shown: r.dataset.shown || ''}; }"""


def test_the_explorer_on_a_tutorial_page_flips_channels(browser, site):
    console: list[str] = []
    context, page = new_page(browser, console)
    try:
        page.goto(site + TUTORIAL, wait_until="load")
        frame_el = page.locator("iframe.aw-static-page").first
        frame_el.scroll_into_view_if_needed()
        frame = frame_el.element_handle().content_frame()
        frame.wait_for_function(f"() => +({_ROOT}?.dataset.version || 0) > 0",
                                timeout=60_000)
        start = int(frame.evaluate(_STATE)["shown"].split("|")[3])
        channels = []
        steps = (("ArrowRight", ".aw-channel"), ("ArrowRight", ".aw-picture"), ("ArrowLeft", ".aw-picture"))
        for key, target in steps:
            before = frame.evaluate(_STATE)
            frame.locator(target).first.focus()
            page.keyboard.press(key)
            frame.wait_for_function(
                f"v => +{_ROOT}.dataset.version > v", arg=before["version"],
                timeout=30_000)
            channels.append(int(frame.evaluate(_STATE)["shown"].split("|")[3]))
        assert channels == [start + 1, start + 2, start + 1], channels
        assert frame.locator(".aw-error").first.is_hidden()
        assert not console, console
    finally:
        context.close()
