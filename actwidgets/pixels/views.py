"""The composed views the widgets draw: all channels as a grid, one channel at image size, one over the image.

The interactive path, so no Python loop runs over pixels or channels. The grid and the
channel come back as :class:`~.color.Indexed` pictures (palette indices and their colours),
which :func:`~.png.to_png` writes as small palette PNGs; ``np.asarray(picture)`` gives RGB.

>>> acts = np.random.default_rng(0).random((64, 14, 14), dtype=np.float32)
>>> render_grid(acts, selected=3).shape
(457, 457, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import activation_maps, numeric, padding_int, rgb_triple
from .color import Indexed, apply_colormap, colormap_lut, palette
from .contrast import _quantize, mat2gray, normalize_channels
from .resize import enlarge, resize
from .tiles import _montage, grid_layout
from .tiles import outline as draw_outline

__all__ = ["render_grid", "render_channel", "overlay", "PAD_RGB", "OUTLINE_RGB", "VIEWS", "CMAPS",
           "CONTRAST_LABELS", "OVERLAY_ALPHA", "overlay_cmap", "fmt", "GRID_LEVELS"]

#: Colour of the padding between the tiles of a grid.
PAD_RGB = (255, 255, 255)
#: Levels of the colormap in a grid picture: 0..253 (254 is the padding, 255 the outline).
GRID_LEVELS = 254

# The explorer's rules, shared by the widgets and the exported page (so the two cannot drift).
#: The colour that marks the selected channel (the grid's outline).
OUTLINE_RGB = (255, 64, 0)
#: The three views: all channels as a grid, one channel at image size, one over the image.
VIEWS: tuple[str, ...] = ("grid", "channel", "overlay")
#: Colormaps offered (any matplotlib name can be set from code).
CMAPS: tuple[str, ...] = ("gray", "viridis", "inferno", "magma", "jet", "turbo", "hot", "bone")
#: Contrast values and their labels.
CONTRAST_LABELS = {"minmax": "min-max", "stretch": "percentile"}
#: Opacity of a channel drawn over the image.
OVERLAY_ALPHA = 0.5


def overlay_cmap(cmap: str) -> str:
    """A grey scale vanishes into a photo: over the image it becomes a heat map (``jet``).

    >>> overlay_cmap("gray"), overlay_cmap("viridis")
    ('jet', 'viridis')
    """
    return "jet" if cmap in ("gray", "grey", "bone") else cmap


def fmt(x: float) -> str:
    """A number as the explorer's stats line writes it: 4 significant digits, a real minus.

    >>> fmt(-0.000123456), fmt(1234567.0)
    ('−0.0001235', '1.235e+06')
    """
    return f"{x:.4g}".replace("-", "−")


def render_grid(
    acts: ArrayLike,
    *,
    selected: int | None = None,
    cmap: str = "gray",
    contrast: str = "minmax",
    padding: int = 1,
    outline: tuple[int, int, int] = OUTLINE_RGB,
    max_side: int = 1024,
) -> Indexed:
    """All channels of ``(C, h, w)`` activations as one colour-mapped grid picture.

    Each channel is scaled on its own (``contrast`` as in
    :func:`~.contrast.normalize_channels`), tiled row by row with ``padding`` white pixels
    around tiles, and colour-mapped (254 levels of ``cmap``). Small tiles are enlarged by an
    integer factor so that the longer side reaches about 400 px without exceeding ``max_side``
    (:func:`~.tiles.grid_layout` gives the geometry). Tile ``selected`` gets a 2 px ring of
    colour ``outline`` (in the padding first).

    >>> render_grid(np.zeros((64, 7, 7)), selected=0).shape  # 7x7 tiles enlarged 7 times
    (401, 401, 3)
    """
    arr = activation_maps(acts, allow_2d=True)
    c, h, w = arr.shape
    layout = grid_layout(c, (h, w), padding=padding_int(padding), max_side=max_side)
    colours = palette(cmap, GRID_LEVELS, [PAD_RGB, rgb_triple(outline, "outline")])
    levels = _quantize(normalize_channels(arr, contrast), GRID_LEVELS)
    tiles = enlarge(levels, layout.scale, axis=1)
    canvas = _montage(tiles, (layout.rows, layout.cols), layout.padding, GRID_LEVELS)
    if selected is not None:
        if isinstance(selected, bool) or not isinstance(selected, (int, np.integer)):
            raise TypeError(f"selected must be a channel index or None, got {selected!r}")
        if not -c <= selected < c:
            raise IndexError(f"selected channel {selected} out of range: valid 0..{c - 1}")
        box = layout.box(int(selected) % c)
        draw_outline(canvas, box, GRID_LEVELS + 1, width=2, outside=min(layout.padding, 2))
    return Indexed(canvas, colours)


def render_channel(
    channel: ArrayLike,
    *,
    size: tuple[int, int] | None = None,
    cmap: str = "gray",
    contrast: str = "minmax",
    limits: tuple[float, float] | None = None,
) -> Indexed:
    """One ``(h, w)`` channel as a colour-mapped picture.

    Resized (bilinear) to ``size = (H, W)`` when given, then scaled (``contrast`` as in
    :func:`~.contrast.normalize_channels`; ``limits=(lo, hi)`` fixes the scale instead, e.g.
    to compare two images) and colour-mapped with ``cmap``.

    >>> render_channel(np.eye(3), size=(6, 6)).shape
    (6, 6, 3)
    """
    ch = numeric(channel, "channel")
    if ch.ndim == 3 and ch.shape[0] == 1:
        ch = ch[0]
    if ch.ndim != 2 or ch.size == 0:
        raise ValueError(
            f"channel must be one (h, w) activation map, got shape {ch.shape}; pick one with acts[c]"
        )
    if ch.dtype == np.bool_:
        ch = ch.astype(np.uint8)
    if size is not None and tuple(size) != ch.shape:
        ch = resize(ch, size, method="bilinear")
    if limits is None:
        scaled = normalize_channels(ch, contrast)
    else:
        scaled = mat2gray(ch, limits=limits)
    return Indexed(_quantize(scaled, 256), colormap_lut(cmap))


def overlay(
    image: Any,
    channel: ArrayLike,
    *,
    cmap: str = "jet",
    alpha: float = 0.5,
    normalize: bool = True,
) -> np.ndarray:
    """Blend a colour-mapped activation channel over an image: (H, W, 3) uint8.

    The ``(h, w)`` channel is resized (bilinear) to the image, scaled with
    :func:`~.contrast.mat2gray` when ``normalize`` (else clipped to [0, 1]), colour-mapped
    and mixed: ``(1 - alpha) * image + alpha * colours``. ``image`` is anything
    :func:`actwidgets.images.load_image` accepts.

    >>> img = np.zeros((8, 8, 3), np.uint8)
    >>> overlay(img, np.eye(2), alpha=1.0).shape
    (8, 8, 3)
    """
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    img = image
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3
            and image.shape[2] == 3):
        from ..images import load_image

        img = load_image(image)
    ch = numeric(channel, "channel")
    if ch.ndim != 2:
        raise ValueError(
            f"channel must be one (h, w) activation map, got shape {ch.shape}; pick one with acts[c]"
        )
    big = resize(ch, img.shape[:2], method="bilinear")
    if normalize:
        v = mat2gray(big)
    elif not np.all(np.isfinite(big)):
        raise ValueError("channel contains NaN or inf")
    else:
        v = np.clip(big, 0.0, 1.0)
    mix = img.astype(np.float32) * (1.0 - a)
    mix += apply_colormap(v, cmap).astype(np.float32) * a
    mix += 0.5
    np.clip(mix, 0, 255, out=mix)
    return mix.astype(np.uint8)
