"""The widgets' front end: ES modules (``draw.js`` + ``controls.js`` + a page's own file) and their
CSS. The explorer's module is used by the live :class:`~actwidgets.ActivationExplorer` (an
anywidget) and by exported pages, and the data it reads is built here once for both; the
CompareExplorer (``compare.js``) and the FilterExplorer (``filters.js``) share its drawing and
controls.

A module is files by role, each under 400 lines, joined into one module text by
:func:`module_text` (plain concatenation in a fixed order: ``draw.js`` defines the drawing,
``controls.js`` the controls every page has, the page's file uses them and ends with ``export
default``). No bundler, no build step; a test checks that the widget's ``_esm`` and the exported
page's script are this text.

The data (:func:`network_meta`, :func:`layer_payload`): the network, its layers and layer
groups, the colour tables; then per image, layer and stage the 8-bit levels of every channel
(one sprite sheet per contrast, as :mod:`actwidgets.export.data` computes them), one float32
per channel (its largest value) and the stats line's numbers.

>>> text = module_text()
>>> text.rstrip().endswith("export default explorer;")
True
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from .. import pixels
from ..export import data as _export_data
from ..export import size as _size
from ..model.layers import LayerInfo
from ..pixels.views import CMAPS, OUTLINE_RGB, OVERLAY_ALPHA, PAD_RGB, overlay_cmap

__all__ = ["module_text", "stylesheet", "network_meta", "cmap_tables", "point_meta", "layer_payload",
           "PARTS", "DISPLAY_PX"]

#: The module's files, in the order they are joined.
PARTS = ("draw.js", "controls.js", "explorer.js")
#: Small pictures are shown enlarged by an integer factor up to about this width (CSS px).
DISPLAY_PX = 454


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


@cache
def module_text(*parts: str) -> str:
    """An ES module: the files ``parts`` of this package joined, in order (default
    :data:`PARTS`, the explorer's). Another widget's module is, for example,
    ``module_text("draw.js", "controls.js", "compare.js")``: shared parts first, the widget's file last,
    ending with its ``export default``."""
    return "\n".join(_asset(name).strip() + "\n" for name in parts or PARTS)


@cache
def stylesheet(*names: str) -> str:
    """CSS files of this package joined (default: the explorer's, ``explorer.css``)."""
    return "\n".join(_asset(name) for name in names or ("explorer.css",))


def _b64(table: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(table, np.uint8).tobytes()).decode("ascii")


def cmap_tables(offer: Sequence[str], extra: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """name → 256 colours ("lut"), the grid's 254 + padding + outline ("grid"), its overlay
    colormap's name, and whether the colormap picker offers it; base64, sent once."""
    wanted = [*offer, *extra]
    names = list(dict.fromkeys([*wanted, *(overlay_cmap(c) for c in wanted)]))
    return {
        name: {
            "lut": _b64(pixels.colormap_lut(name)),
            "grid": _b64(pixels.palette(name, _export_data.GRID_LEVELS, [PAD_RGB, OUTLINE_RGB])),
            "overlay": overlay_cmap(name),
            "offer": name in offer,
        }
        for name in names
    }


def network_meta(net: Any, layers: Sequence[LayerInfo], images: Sequence[str], *,
                 contrasts: Sequence[str] = pixels.CONTRASTS, cmaps: Sequence[str] = CMAPS,
                 extra_cmaps: Sequence[str] = (), upload: bool = False) -> dict[str, Any]:
    """What the module needs to know once: the network, the images' names, the layers and the
    layer picker's groups, the contrasts and colour tables, the outline colour."""
    groups = _export_data.layer_groups(layers)
    blocks = {g["block"]: i for i, g in enumerate(groups) if g["block"]}
    everything = next(i for i, g in enumerate(groups) if g["label"].startswith("all layers"))
    return {
        "net": {"name": net.name, "weights": net.weights, "pretrained": bool(net.pretrained),
                "input": list(net.input_size)},
        "images": list(images),
        "layers": [{"name": layer.name, "label": layer.label, "kind": layer.kind,
                    "channels": layer.channels, "stages": layer.has_stages,
                    "default": layer.default_stage, "home": blocks.get(layer.group, everything)}
                   for layer in layers],
        "groups": [{"label": g["label"], "layers": g["layers"]} for g in groups],
        "contrasts": list(contrasts), "cmaps": cmap_tables(cmaps, extra_cmaps),
        "outline": list(OUTLINE_RGB), "alpha": OVERLAY_ALPHA, "display": DISPLAY_PX, "upload": upload,
    }


def point_meta(shape: Sequence[int], contrasts: Sequence[str]) -> dict[str, Any]:
    """The geometry of a (C, h, w) layer: its sheet's size and its grid picture's layout
    (rows, cols, scale, padding, height, width: :func:`actwidgets.pixels.render_grid`'s)."""
    c, h, w = (int(v) for v in shape)
    rows, cols = pixels.tile_grid(c)
    g = pixels.grid_layout(c, (h, w), padding=1, max_side=1024)
    return {"shape": [c, h, w], "cols": cols, "sheet": [rows * h, cols * w], "contrasts": list(contrasts),
            "grid": [g.rows, g.cols, g.scale, g.padding, g.height, g.width]}


def layer_payload(acts: np.ndarray, contrasts: Sequence[str] = pixels.CONTRASTS,
                  **key: Any) -> tuple[dict[str, Any], bytes]:
    """One layer for the module: its description (``key``'s entries, the geometry, the stats
    line's numbers) and its bytes: each contrast's sheet, then a float32 per channel.

    >>> meta, data = layer_payload(np.ones((3, 2, 2), np.float32), image="x")
    >>> meta["sheet"], len(data) == 2 * 4 * 4 + 3 * 4
    ([4, 4], True)
    """
    pd = _export_data.point_data(acts, contrasts)
    meta = {**key, **point_meta(acts.shape, contrasts), "stats": pd.stats}
    return meta, levels_bytes(pd, contrasts)


def levels_bytes(pd: Any, contrasts: Sequence[str]) -> bytes:
    """A :class:`~actwidgets.export.data.PointData` as the module reads it."""
    parts = [_size.sheet(pd.levels[c]).tobytes() for c in contrasts]
    return b"".join([*parts, np.asarray(pd.values, "<f4").tobytes()])
