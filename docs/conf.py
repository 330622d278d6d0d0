"""Sphinx configuration of the documentation site: ``bash .ci/docs`` builds it into docs/_build/html.

Sphinx with myst-nb and sphinx-book-theme: every piece is an ordinary package, and the build
needs no network (Jupyter Book 2 / MyST's site tools fetch their theme at build time, and
fail offline). The tutorials are the notebooks with their stored outputs (nothing is
executed: ``nb_execution_mode = "off"``), copied into ``docs/tutorials/`` at each build with a
static explorer (``docs/explorers.py``) put after their first cell. Nothing on the site is
loaded from elsewhere: no CDN scripts (myst-nb's ipywidgets loader is off), no web fonts, no
MathJax; tests/e2e/test_docs_site_browser.py refuses every outside request and checks it.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import nbformat

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(REPO))

import actwidgets  # noqa: E402

project = "actwidgets"
author = "the actwidgets authors"
copyright = "the actwidgets authors, BSD-3-Clause"  # noqa: A001
release = version = actwidgets.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.autosummary"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
suppress_warnings = ["myst.xref_missing", "myst.header", "misc.highlighting_failure"]

# --- notebooks: stored outputs only, no JavaScript from elsewhere
nb_execution_mode = "off"
nb_ipywidgets_js: dict[str, dict[str, str]] = {}   # myst-nb's default loads require.js from a CDN
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# --- API reference from the docstrings
autosummary_generate = True
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"

# --- HTML: the book theme, everything served from the site itself
html_theme = "sphinx_book_theme"
html_title = "actwidgets"
html_static_path = ["_static"]
html_js_files = ["aw-explorers.js"]
html_theme_options = {
    "use_download_button": False,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # unset, the theme logs "invalid theme mode" as an error
html_copy_source = False
mathjax_path = "none.js"  # no page has math; a page that had some would show the raw TeX


# --- tutorials: copies of the notebooks, each with its no-kernel explorer
TUTORIALS = DOCS / "tutorials"
EXPLORERS = DOCS / "_static" / "explorers"


def _explorer_cell(stem: str, entry: dict) -> nbformat.NotebookNode:
    weights = ("its trained weights" if entry["pretrained"] else
               "**random weights** (its trained weights cannot be had where this site was "
               "built): the pictures show an untrained network")
    text = (f"```{{admonition}} Explore it here, no kernel needed\n"
            f"The explorer below is a page written by `aw.static_explorer` (`docs/explorers.py`): "
            f"{entry['network']} with {weights}. Pick an image, a layer and a channel; the "
            f"arrow keys move the channel.\n```\n\n"
            f'<iframe class="aw-static-page" src="../_static/explorers/{stem}.html" '
            f'title="static activation explorer: {stem}" '
            f'style="width:100%;height:{entry["height"]}px;border:0" '
            f'loading="lazy"></iframe>\n')
    return nbformat.v4.new_markdown_cell(text)


def _has_static_output(nb: nbformat.NotebookNode) -> bool:
    return any("aw-static" in "".join(out.get("data", {}).get("text/html", ""))
               for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))


def copy_tutorials() -> list[str]:
    """Copy notebooks/NN_*.ipynb into docs/tutorials/, each with its explorer; their names."""
    index_file = EXPLORERS / "index.json"
    index = json.loads(index_file.read_text()) if index_file.is_file() else {}
    shutil.rmtree(TUTORIALS, ignore_errors=True)
    TUTORIALS.mkdir()
    names = []
    for path in sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if path.stem in index:
            nb.cells.insert(1, _explorer_cell(path.stem, index[path.stem]))
        elif not _has_static_output(nb):
            raise RuntimeError(f"{path.name} has no explorer for the site: run `python docs/explorers.py` "
                               "(or add it to docs/explorers.py's EXPLORERS)")
        nbformat.write(nb, TUTORIALS / path.name)
        names.append(path.stem)
    return names


TUTORIAL_NAMES = copy_tutorials()
