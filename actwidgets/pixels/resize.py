"""Resizing: one channel to any size (Pillow), and enlargement by an integer factor (nearest neighbour).

>>> enlarge(np.eye(2, dtype=np.uint8), 2)
array([[1, 1, 0, 0],
       [1, 1, 0, 0],
       [0, 0, 1, 1],
       [0, 0, 1, 1]], dtype=uint8)
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

from .checks import numeric, positive_int
from .color import Indexed

__all__ = ["resize", "enlarge", "enlarge_to"]

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}

_Picture = TypeVar("_Picture", np.ndarray, Indexed)


def resize(channel: ArrayLike, size: tuple[int, int], *, method: str = "bilinear") -> np.ndarray:
    """Resize one ``(H, W)`` channel to ``size = (h, w)`` as float32 (Pillow's mode "F").

    ``method`` is "nearest", "bilinear" or "bicubic". Downscaling is antialiased. The result
    is a new array.

    >>> resize(np.eye(2), (4, 4), method="nearest")[0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    arr = numeric(channel, "channel")
    if arr.ndim != 2:
        raise ValueError(f"resize takes one (H, W) channel, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("resize needs a non-empty channel")
    if method not in _RESAMPLE:
        raise ValueError(f"method must be one of {sorted(_RESAMPLE)}, got {method!r}")
    h, w = (positive_int(v, "size entry") for v in size)
    src = np.ascontiguousarray(arr, dtype=np.float32)
    if (h, w) == src.shape:
        return src.copy() if src is arr else src
    img = Image.fromarray(src)  # float32 (H, W) gives Pillow's mode "F"
    return np.array(img.resize((w, h), _RESAMPLE[method]), dtype=np.float32)


def enlarge(picture: _Picture, factor: int, *, axis: int = 0) -> _Picture:
    """Repeat every pixel ``factor`` times along axes ``axis`` and ``axis + 1`` (nearest
    neighbour), as a new contiguous array.

    ``axis=1`` enlarges each picture of a stack ``(N, H, W[, 3])``. An :class:`Indexed`
    picture stays indexed (its indices are enlarged).

    >>> enlarge(np.zeros((5, 2, 3, 3)), 4, axis=1).shape
    (5, 8, 12, 3)
    """
    if isinstance(picture, Indexed):
        return Indexed(enlarge(picture.index, factor), picture.palette)
    k = positive_int(factor, "factor")
    a = np.asarray(picture)
    if not 0 <= axis < a.ndim - 1:
        raise ValueError(f"axis must leave two axes to enlarge in shape {a.shape}, got {axis!r}")
    head, (h, w), tail = a.shape[:axis], a.shape[axis : axis + 2], a.shape[axis + 2 :]
    out = np.empty(head + (h * k, w * k) + tail, a.dtype)
    cut = (slice(None),) * axis + (slice(None), None, slice(None), None)
    out.reshape(head + (h, k, w, k) + tail)[...] = a[cut]  # a view of out: one pass, no copy
    return out


def enlarge_to(picture: _Picture, min_side: int, *, max_side: int = 2048) -> _Picture:
    """:func:`enlarge` a small picture by the integer factor that brings its shorter side to at
    least ``min_side``, but its longer side not beyond ``max_side``; larger pictures come back
    as they are.

    >>> enlarge_to(np.zeros((10, 30), np.uint8), 25).shape
    (30, 90)
    """
    h, w = picture.shape[:2]
    short = min(h, w)
    if short >= min_side or short == 0:
        return picture
    k = max(1, min(-(-min_side // short), max_side // max(h, w)))
    return picture if k == 1 else enlarge(picture, k)
