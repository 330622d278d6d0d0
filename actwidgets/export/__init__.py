"""Explorers as self-contained HTML pages: lessons without a server or a kernel.

- :func:`export_html` writes one page: the chosen layers' channels for the chosen images, both
  stages, as 8-bit PNG sprite sheets inline, with the explorer's controls in plain JavaScript.
- :func:`static_explorer` gives the same page as a :class:`StaticExplorer`, which a notebook
  shows inline (and keeps when converted to HTML).

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> aw.static_explorer(net, "face", "fire9")       # display it: the last line of a cell
StaticExplorer(squeezenet, 1 image, 7 layers, ... MB)
"""

from __future__ import annotations

from ..explorer_state import ExplorerState
from .data import chosen_layers
from .html import CMAPS, VIEWS, ExportResult, StaticExplorer, export_html, static_explorer
from .size import ExportTooLargeError

__all__ = ["export_html", "static_explorer", "StaticExplorer", "ExportResult", "ExportTooLargeError",
           "CMAPS", "VIEWS", "chosen_layers", "ExplorerState"]
