"""Tiling: grid shapes, imtile (scikit-image's montage), tile boxes, the widgets' grid layout, outlines.

>>> imtile(np.zeros((6, 5, 5))).shape  # a 2 x 3 grid, 1 px of padding around every tile
(13, 19)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from skimage.util import montage

from .checks import numeric, padding_int, positive_int

__all__ = ["tile_grid", "imtile", "tile_box", "GridLayout", "grid_layout", "outline", "MIN_GRID_SIDE"]

#: :func:`grid_layout` enlarges small tiles until the grid's longer side reaches this.
MIN_GRID_SIDE = 400


def tile_grid(n: int, grid: tuple[int | None, int | None] | None = None) -> tuple[int, int]:
    """Rows and columns of a grid for ``n`` tiles.

    Default: ``cols = ceil(sqrt(n))``, ``rows = ceil(n / cols)``. ``grid=(rows, cols)`` is
    used as given; one entry may be ``None`` to have it computed.

    >>> tile_grid(10), tile_grid(10, (None, 5)), tile_grid(10, (2, 5))
    ((3, 4), (2, 5), (2, 5))
    """
    n = positive_int(n, "n")
    if grid is None:
        cols = math.isqrt(n)
        cols += cols * cols < n
        return -(-n // cols), cols
    try:
        r, c = grid
    except (TypeError, ValueError) as exc:
        raise TypeError(f"grid must be (rows, cols), either may be None; got {grid!r}") from exc
    if r is None and c is None:
        return tile_grid(n)
    if r is None:
        c = positive_int(c, "grid cols")
        return -(-n // c), c
    r = positive_int(r, "grid rows")
    c = -(-n // r) if c is None else positive_int(c, "grid cols")
    if r * c < n:
        raise ValueError(
            f"grid {r}x{c} holds {r * c} tiles but there are {n}; enlarge it or pass "
            "(rows, None) to compute the columns"
        )
    return r, c


def _montage(tiles: np.ndarray, grid: tuple[int, int], padding: int, fill: Any) -> np.ndarray:
    """``tiles`` (N, h, w[, 3]) row by row on a ``grid`` with ``padding`` px of ``fill``
    around every tile; empty cells are ``fill`` too. The dtype stays ``tiles``'."""
    if tiles.ndim == 4:  # montage wants one fill value per colour, as a list (not an array)
        fill = np.broadcast_to(np.asarray(fill), tiles.shape[3:]).tolist()
    rgb = -1 if tiles.ndim == 4 else None
    return montage(tiles, fill=fill, grid_shape=grid, padding_width=padding, channel_axis=rgb)


def imtile(
    images: ArrayLike,
    *,
    grid: tuple[int | None, int | None] | None = None,
    padding: int = 1,
    pad_value: float | Sequence[float] = 1.0,
) -> np.ndarray:
    """Tile ``(N, H, W)`` or ``(N, H, W, 3)`` images into one picture, row by row.

    ``padding`` pixels of ``pad_value`` separate the tiles and surround the grid; empty
    cells are ``pad_value`` too. No normalisation is done. The result is float32, or uint8
    for uint8 input (then ``pad_value`` in [0, 1] is scaled by 255). Its shape is
    ``rows * (H + padding) + padding`` by ``cols * (W + padding) + padding``.

    >>> imtile(np.zeros((5, 2, 3)), padding=1).shape
    (7, 13)
    """
    arr = numeric(images, "images")
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] != 3):
        raise ValueError(
            f"images must be (N, H, W) or (N, H, W, 3), got shape {arr.shape}; "
            "for one image add an axis with x[None]"
        )
    if 0 in arr.shape[:3]:
        raise ValueError(f"images must not be empty, got shape {arr.shape}")
    padding = padding_int(padding)
    rows_cols = tile_grid(arr.shape[0], grid)
    pv = np.asarray(pad_value, dtype=np.float64)
    if pv.ndim > 1 or (pv.ndim == 1 and (arr.ndim != 4 or pv.shape[0] != 3)):
        raise ValueError(f"pad_value must be a number (or 3 numbers for RGB tiles), got {pad_value!r}")
    if arr.dtype != np.uint8:
        return _montage(arr.astype(np.float32, copy=False), rows_cols, padding, pv)
    if np.any(pv < 0) or np.any(pv > 1):
        raise ValueError(f"for uint8 images pad_value is given in [0, 1] (scaled by 255), got {pad_value!r}")
    return _montage(arr, rows_cols, padding, np.round(pv * 255.0))


def tile_box(
    index: int, tile_shape: tuple[int, int], grid: tuple[int, int], padding: int = 1
) -> tuple[int, int, int, int]:
    """Box ``(x0, y0, x1, y1)`` (exclusive end) of tile ``index`` in :func:`imtile` output.

    ``tile_shape`` is ``(H, W)`` of one tile and ``grid`` is ``(rows, cols)``.

    >>> tile_box(5, (2, 3), (2, 4), padding=1)
    (5, 4, 8, 6)
    """
    rows, cols = (positive_int(v, "grid entry") for v in grid)
    h, w = (positive_int(v, "tile_shape entry") for v in tile_shape)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an integer, got {index!r}")
    if not 0 <= index < rows * cols:
        raise IndexError(f"tile index {index} out of range: valid 0..{rows * cols - 1}")
    padding = padding_int(padding)
    r, c = divmod(int(index), cols)
    x0 = padding + c * (w + padding)
    y0 = padding + r * (h + padding)
    return x0, y0, x0 + w, y0 + h


class GridLayout(NamedTuple):
    """Geometry of a grid picture (pixels; ``scale`` = integer tile enlargement)."""

    rows: int
    cols: int
    tile_h: int  # height of one tile after enlargement
    tile_w: int
    scale: int
    padding: int
    height: int
    width: int

    def box(self, index: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of tile ``index`` (exclusive end), as :func:`tile_box`."""
        return tile_box(index, (self.tile_h, self.tile_w), (self.rows, self.cols), self.padding)

    def tile_at(self, x: float, y: float, n_tiles: int | None = None) -> int | None:
        """The tile under pixel ``(x, y)`` of the grid picture, or None (padding, outside).

        >>> layout = grid_layout(6, (5, 5), max_side=40)
        >>> layout.tile_at(*layout.box(4)[:2]), layout.tile_at(0, 0)
        (4, None)
        """
        col, dx = divmod(int(x) - self.padding, self.tile_w + self.padding)
        row, dy = divmod(int(y) - self.padding, self.tile_h + self.padding)
        if not (0 <= row < self.rows and 0 <= col < self.cols) or dx >= self.tile_w or dy >= self.tile_h:
            return None
        index = row * self.cols + col
        return index if n_tiles is None or index < n_tiles else None


def grid_layout(
    n_tiles: int,
    tile_shape: tuple[int, int],
    *,
    padding: int = 1,
    max_side: int = 1024,
) -> GridLayout:
    """The layout of ``n_tiles`` tiles of ``(h, w)`` enlarged for display.

    Tiles are enlarged by the smallest integer factor that makes the grid's longer side at
    least :data:`MIN_GRID_SIDE` px, but never beyond ``max_side`` (a larger grid is not shrunk).

    >>> grid_layout(64, (7, 7)).scale
    7
    """
    rows, cols = tile_grid(n_tiles)
    h, w = (positive_int(v, "tile_shape entry") for v in tile_shape)
    padding = padding_int(padding)

    def sides(k: int) -> tuple[int, int]:
        return rows * (h * k + padding) + padding, cols * (w * k + padding) + padding

    scale = 1
    while max(sides(scale)) < MIN_GRID_SIDE and max(sides(scale + 1)) <= max_side:
        scale += 1
    height, width = sides(scale)
    return GridLayout(rows, cols, h * scale, w * scale, scale, padding, height, width)


def outline(
    picture: np.ndarray,
    box: tuple[int, int, int, int],
    value: Any,
    *,
    width: int = 2,
    outside: int | None = None,
) -> None:
    """Draw a ``width`` px ring of ``value`` around ``box = (x0, y0, x1, y1)``, in place.

    The ring's outer edge lies ``outside`` px outside the box (default ``width``: the whole
    ring lies just outside it); the ring is clipped to the picture.

    >>> a = np.zeros((5, 5), np.uint8); outline(a, (2, 2, 3, 3), 1, width=1); int(a.sum())
    8
    """
    o = width if outside is None else outside
    h, w = picture.shape[:2]
    x0, y0, x1, y1 = box
    ox0, oy0, ox1, oy1 = _clip(x0 - o, w), _clip(y0 - o, h), _clip(x1 + o, w), _clip(y1 + o, h)
    ix0, iy0 = _clip(x0 - o + width, ox1), _clip(y0 - o + width, oy1)  # the inner edge
    ix1, iy1 = max(_clip(x1 + o - width, w), ox0), max(_clip(y1 + o - width, h), oy0)
    picture[oy0:iy0, ox0:ox1] = value
    picture[iy1:oy1, ox0:ox1] = value
    picture[oy0:oy1, ox0:ix0] = value
    picture[oy0:oy1, ix1:ox1] = value


def _clip(v: int, hi: int) -> int:
    return min(max(v, 0), hi)
