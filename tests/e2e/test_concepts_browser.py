"""The exported ConceptView page (issue 23) in headless Chromium, offline, from ``file://``.

The page exported with ``ConceptView.export_html`` runs the widget's module over the inlined
data. Its canvas is compared with the widget's picture drawn in Python (within one level of
255: the page composites the 8-bit levels, Python the float maps), for all concepts, one
concept picked by a click in the legend, a concept hidden by its box, another opacity and the
second image; the picked concept's details (loadings bars, top patches) show; no request leaves
the page and the console stays clean.
"""

from __future__ import annotations

import numpy as np
import pytest

from .test_export_browser import StaticPage, offline_page

pytestmark = pytest.mark.e2e

_SHOWN_JS = """s => { const r = document.querySelector('.aw-concepts-view');
  return r && !r.classList.contains('aw-busy') && r.dataset.shown === s; }"""


@pytest.fixture(scope="module")
def view():
    import actwidgets as aw

    net = aw.load_model("squeezenet", weights=None)
    c = aw.layer_concepts(net, ["face", "cat"], "fire6-relu_squeeze1x1", n=4, top=3, progress=False)
    return aw.ConceptView(c)


@pytest.fixture()
def page(browser, view, tmp_path, artifacts):
    path = view.export_html(tmp_path / "concepts.html", images=["face", "cat"], verbose=False)
    console: list[str] = []
    context, page = offline_page(browser, console)
    page.goto(path.as_uri())
    w = StaticPage(page, page.main_frame, console, artifacts, "concepts")
    yield w
    context.close()


def _shown(view) -> str:
    alpha = view.alpha if view.alpha != int(view.alpha) else int(view.alpha)
    return "|".join([view.image, str(view.concept), ",".join(map(str, view.hidden)), str(alpha)])


def _canvas_matches(w, view, what: str) -> str:
    w.frame.wait_for_function(_SHOWN_JS, arg=_shown(view))
    got = w.pixels()[:, :, :3].astype(int)
    diff = np.abs(got - view.picture.astype(int))
    line = f"{what}: max {diff.max()}, mean {diff.mean():.3f}"
    assert diff.max() <= 1, line
    return line


def test_the_page_draws_what_the_widget_draws(page, view):
    w, lines = page, []
    view.image, view.concept, view.hidden, view.alpha = "face", -1, [], 0.8
    lines.append(_canvas_matches(w, view, "all concepts"))
    w.frame.locator(".aw-legend li[data-concept='2'] .aw-pick").click()   # pick concept 2
    view.concept = 2
    lines.append(_canvas_matches(w, view, "concept 2 alone"))
    assert w.frame.locator(".aw-detail").is_visible()
    assert w.frame.locator(".aw-detail-title").inner_text().startswith("concept 2")
    assert w.frame.locator(".aw-patches img").count() == len(view.concepts.top(2, 6))
    bars = w.frame.evaluate("() => document.querySelector('.aw-loadings').width")
    assert bars >= view.concepts.channels
    w.frame.locator(".aw-legend li[data-concept='2'] .aw-pick").click()   # again: all of them
    w.frame.locator(".aw-legend li[data-concept='0'] input").uncheck()    # hide concept 0
    view.concept, view.hidden = -1, [0]
    lines.append(_canvas_matches(w, view, "concept 0 hidden"))
    w.frame.locator(".aw-image").select_option("cat")
    view.image = "cat"
    lines.append(_canvas_matches(w, view, "the cat"))
    w.frame.evaluate("() => { const a = document.querySelector('.aw-alpha'); a.value = '0.5';"
                     " a.dispatchEvent(new Event('input')); }")
    view.alpha = 0.5
    lines.append(_canvas_matches(w, view, "opacity 0.5"))
    print("\nconcept page against the widget's picture (levels of 255):\n  " + "\n  ".join(lines))
    assert not w.console, w.console
    assert w.frame.locator(".aw-error").is_hidden()
