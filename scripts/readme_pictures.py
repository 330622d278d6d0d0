"""Make the README's pictures, ``docs/images/explorer.png`` and ``exported_explorer.png``.

A script, not a test: tests never write into the checkout. Run it after a change to what the
pictures show, look at them, and commit them::

    python scripts/readme_pictures.py              # both
    python scripts/readme_pictures.py exported     # only the exported page's

Needs the real SqueezeNet weights (``TORCH_HOME``; the README shows trained features, so
random weights are refused), headless Chromium (``/usr/bin/chromium`` or
``ACTWIDGETS_E2E_CHROMIUM``) and the ``e2e`` extra (Playwright, Voilà). Offline: the pages may
load ``file:``, ``data:`` and 127.0.0.1 only. The servers and the browser come from the
browser tests' harness (``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, new_page, voila_server  # noqa: E402

#: The widget in Voilà: the explorer the README's first example opens, on the sample face.
EXPLORER_CELLS = [
    "import actwidgets as aw\nnet = aw.load_model('squeezenet')\n"
    "assert net.pretrained, 'the README shows trained weights: set TORCH_HOME'",
    "aw.ActivationExplorer(net)",
]
_DRAWN_JS = """([sel, v]) => { const r = document.querySelector(sel);
  return r && +(r.dataset.version || 0) > v && !r.classList.contains('aw-busy'); }"""
VIEW = ".aw-explorer-view"


def save_small(shot: Path, out: Path, max_bytes: int = 300_000, width: int | None = None) -> None:
    """The screenshot in 128 colours, ``width`` pixels wide (a README picture stays small)."""
    from PIL import Image

    with Image.open(shot) as im:
        im = im.convert("RGB")
        if width is not None and im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
        small = im.quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        small.save(out, optimize=True)
    size = out.stat().st_size
    if size > max_bytes:
        raise SystemExit(f"{out} is {size:,} bytes, over {max_bytes:,}: pick a smaller view")
    print(f"wrote {out.relative_to(REPO)} ({size:,} bytes)")


def exported_picture(browser, work: Path) -> None:
    """The exported page from ``file://``, every other request refused: fire2's expand3x3
    after its ReLU in inferno, the strongest channel outlined."""
    import actwidgets as aw

    net = aw.load_model("squeezenet")
    if not net.pretrained:
        raise SystemExit("no trained SqueezeNet weights here: set TORCH_HOME (../shared/torch-home)")
    page_file = work / "squeezenet.html"
    aw.export_html(net, ["face", "cat"], None, page_file, layer="fire2-relu_expand3x3", channel=0,
                   cmap="inferno", verbose=False)
    context = browser.new_context(viewport={"width": 980, "height": 800})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:"))
                  else r.abort())
    try:
        page = context.new_page()
        page.goto(page_file.as_uri())
        page.wait_for_function(_DRAWN_JS, arg=[VIEW, 0], timeout=60_000)
        drawn = page.evaluate(f"() => +document.querySelector('{VIEW}').dataset.version")
        page.locator(".aw-strongest").click()  # the outline: wait for its drawing
        page.wait_for_function(_DRAWN_JS, arg=[VIEW, drawn], timeout=30_000)
        shot = work / "exported.png"
        page.screenshot(path=str(shot), clip={"x": 0, "y": 0, "width": 980, "height": 800})
        save_small(shot, IMAGES / "exported_explorer.png")
    finally:
        context.close()


def explorer_picture(browser, work: Path) -> None:
    """The ActivationExplorer widget in Voilà as it opens: conv1 before its ReLU, the sample face."""
    notebook = work / "explorer.ipynb"
    notebook.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": src} for i, src in enumerate(EXPLORER_CELLS)],
    }))
    with voila_server(notebook, work / "voila", work) as server:
        console: list[str] = []
        context, page = new_page(browser, console, width=900, height=1400)
        try:
            page.goto(server.url)
            page.wait_for_function(_DRAWN_JS, arg=[VIEW, 0], timeout=180_000)
            shot = work / "explorer.png"
            page.locator(VIEW).first.screenshot(path=str(shot))  # the whole widget, no more
            errors = [c for c in console if c.startswith("pageerror")]
            if errors:
                raise SystemExit(f"the page reported errors: {errors}")
            save_small(shot, IMAGES / "explorer.png", max_bytes=400_000, width=720)
        finally:
            context.close()


PICTURES = {"explorer": explorer_picture, "exported": exported_picture}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help=f"some of {', '.join(PICTURES)} (default: all)")
    which = parser.parse_args(argv).which or list(PICTURES)
    unknown = sorted(set(which) - set(PICTURES))
    if unknown:
        parser.error(f"no picture named {', '.join(unknown)}; choose from {', '.join(PICTURES)}")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="readme-pictures-") as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name in which:
                PICTURES[name](browser, Path(tmp))
        finally:
            browser.close()


if __name__ == "__main__":
    main()
