"""Colour: matplotlib colormap tables, colour-mapping, diverging maps and palette-indexed pictures.

>>> apply_colormap(np.array([[0.0, 1.0]]), "gray")[0].tolist()
[[0, 0, 0], [255, 255, 255]]
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import numeric
from .contrast import to_levels

__all__ = ["colormap_lut", "apply_colormap", "palette", "diverging", "Indexed"]


@lru_cache(maxsize=64)
def _lut(name: str) -> np.ndarray:
    import matplotlib  # colormap tables only; never pyplot

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        close = difflib.get_close_matches(name, sorted(matplotlib.colormaps), n=5)
        hint = f"did you mean {', '.join(close)}?" if close else "e.g. gray, viridis, jet, inferno"
        raise ValueError(f"unknown colormap {name!r}; {hint}") from None
    rgba = cmap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def colormap_lut(cmap: str | np.ndarray) -> np.ndarray:
    """The (256, 3) uint8 lookup table of a matplotlib colormap (cached, read-only).

    A (256, 3) uint8 table passed in comes back as it is.

    >>> colormap_lut("gray")[[0, 255]]
    array([[  0,   0,   0],
           [255, 255, 255]], dtype=uint8)
    """
    if isinstance(cmap, str):
        return _lut(cmap)
    if isinstance(cmap, np.ndarray):
        if cmap.shape != (256, 3) or cmap.dtype != np.uint8:
            raise ValueError("cmap must be a colormap name or a (256, 3) uint8 lookup table")
        return cmap
    raise TypeError(f"colormap name must be a string such as 'viridis', got {cmap!r}")


def apply_colormap(a01: ArrayLike, cmap: str | np.ndarray = "viridis") -> np.ndarray:
    """Colour-map values in [0, 1] (clipped first) to uint8 RGB, shape ``a01.shape + (3,)``.

    ``cmap`` is a matplotlib colormap name or a (256, 3) uint8 table.

    >>> apply_colormap(np.array([[0.0, 1.0]]), "gray")
    array([[[  0,   0,   0],
            [255, 255, 255]]], dtype=uint8)
    """
    lut = colormap_lut(cmap)
    return np.take(lut, to_levels(a01, 256), axis=0)


def palette(cmap: str | np.ndarray, levels: int, extra: Sequence[Sequence[int]] = ()) -> np.ndarray:
    """``levels`` evenly spaced colours of ``cmap``, then the ``extra`` (r, g, b) colours.

    >>> palette("gray", 3, [(255, 0, 0)]).tolist()
    [[0, 0, 0], [128, 128, 128], [255, 255, 255], [255, 0, 0]]
    """
    lut = colormap_lut(cmap)
    pick = np.round(np.linspace(0, 255, levels)).astype(np.intp)
    return np.concatenate([lut[pick], np.asarray(extra, np.uint8).reshape(-1, 3)])


def diverging(a: ArrayLike, cmap: str = "RdBu_r", *, vmax: float | None = None) -> np.ndarray:
    """Colour-map a signed map symmetrically around 0 (for differences): (H, W, 3) uint8.

    ``-vmax`` maps to the colormap's low end, 0 to its middle and ``+vmax`` to its high end;
    ``vmax`` defaults to max |a|. An all-zero map is the middle colour everywhere.

    >>> diverging(np.array([[-1.0, 0.0, 1.0]]), "gray")[0, :, 0]
    array([  0, 128, 255], dtype=uint8)
    """
    arr = numeric(a, "a")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"diverging takes one non-empty (H, W) map, got shape {arr.shape}")
    peak = float(np.max(np.abs(arr.astype(np.float64)))) if vmax is None else float(vmax)
    if not np.isfinite(peak):
        raise ValueError("the map contains NaN or inf (or vmax is not finite)")
    if peak < 0:
        raise ValueError(f"vmax must be positive, got {vmax!r}")
    if peak == 0:
        v = np.full(arr.shape, 0.5, np.float32)
    else:
        v = np.multiply(arr, 0.5 / peak, dtype=np.float64).astype(np.float32)
        v += 0.5
    return apply_colormap(v, cmap)


class Indexed:
    """A colour-mapped picture kept as palette indices, as a PNG in palette mode stores it.

    ``index`` is (H, W) uint8 and ``palette`` (K, 3) uint8 with K <= 256, kept as read-only
    views (not copies); an index must be below K. ``np.asarray(picture)`` or :meth:`rgb` gives
    the (H, W, 3) uint8 pixels, a new array.

    >>> pic = Indexed(np.array([[0, 1]], np.uint8), np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    >>> pic.shape, np.asarray(pic)[0, 1].tolist()
    ((1, 2, 3), [255, 0, 0])
    """

    __slots__ = ("index", "palette")

    def __init__(self, index: np.ndarray, palette: np.ndarray) -> None:
        index, palette = np.asarray(index), np.ascontiguousarray(palette)
        if index.dtype != np.uint8 or index.ndim != 2 or index.size == 0:
            raise ValueError(f"index must be a non-empty (H, W) uint8 array, got {index.dtype} "
                             f"{index.shape}")
        if (palette.dtype != np.uint8 or palette.ndim != 2 or palette.shape[1] != 3
                or not 0 < len(palette) <= 256):
            raise ValueError(f"palette must be (K, 3) uint8 with K <= 256, got {palette.dtype} "
                             f"{palette.shape}")
        object.__setattr__(self, "index", _frozen(index))
        object.__setattr__(self, "palette", _frozen(palette))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an Indexed picture is read-only; make a new one")

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, 3)``, the shape of its RGB pixels."""
        return (*self.index.shape, 3)

    def rgb(self) -> np.ndarray:
        """The (H, W, 3) uint8 RGB pixels (a new array)."""
        return np.take(self.palette, self.index, axis=0)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        rgb = self.rgb()
        return rgb if dtype is None else rgb.astype(dtype)

    def __repr__(self) -> str:
        h, w = self.index.shape
        return f"Indexed({h}x{w}, {len(self.palette)} colours)"


def _frozen(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view
