"""Pixels: activations and filters to pictures and PNG bytes (numpy, scikit-image, Pillow).

- :mod:`.contrast`: values to [0, 1] (``mat2gray``, ``stretchlim``, ``imadjust``, the
  widgets' per-channel scaling), and to uint8.
- :mod:`.tiles`: grid shapes, ``imtile``, tile boxes and outlines, the widgets' grid layout.
- :mod:`.color`: colormap tables, ``apply_colormap``, ``diverging``, palette pictures.
- :mod:`.resize`: ``resize`` one channel, ``enlarge`` by an integer factor.
- :mod:`.views`: the widgets' composed views (``render_grid``, ``render_channel``,
  ``overlay``).
- :mod:`.filters`: learned filters as pictures.
- :mod:`.png`: PNG bytes (Pillow).

Everything works on plain arrays and returns new arrays; inputs are never modified.

>>> from actwidgets import pixels
>>> acts = np.random.default_rng(0).random((6, 5, 5)).astype(np.float32)
>>> pixels.imtile(pixels.mat2gray(acts, per_channel=True)).shape
(13, 19)
>>> pixels.to_png(pixels.render_grid(acts, selected=3))[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (the examples use it)

from .color import Indexed, apply_colormap, colormap_lut, diverging, palette
from .contrast import (
    CONTRASTS,
    contrast_limits,
    imadjust,
    mat2gray,
    normalize_channels,
    stretchlim,
    to_levels,
    to_uint8,
)
from .filters import filter_channels, filter_tiles
from .png import to_pil, to_png
from .resize import enlarge, enlarge_to, resize
from .tiles import GridLayout, grid_layout, imtile, outline, tile_box, tile_grid
from .views import fmt, overlay, overlay_cmap, render_channel, render_grid

__all__ = [
    # contrast
    "CONTRASTS", "contrast_limits", "normalize_channels", "mat2gray", "stretchlim", "imadjust",
    "to_levels", "to_uint8",
    # tiles
    "tile_grid", "imtile", "tile_box", "GridLayout", "grid_layout", "outline",
    # colour
    "colormap_lut", "apply_colormap", "palette", "diverging", "Indexed",
    # resizing
    "resize", "enlarge", "enlarge_to",
    # views, filters, PNG
    "render_grid", "render_channel", "overlay", "overlay_cmap", "fmt", "filter_tiles",
    "filter_channels", "to_png", "to_pil",
]
