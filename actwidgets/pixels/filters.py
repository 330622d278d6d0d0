"""Learned convolution filters as pictures: every filter tiled, and one filter's kernels.

Weights are ``(O, I, kh, kw)`` arrays (output channels, input channels, kernel height and
width), as in ``conv.weight.detach().numpy()``.

>>> w = np.random.default_rng(0).normal(size=(64, 3, 11, 11)).astype(np.float32)
>>> filter_tiles(w).shape
(97, 97, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import numeric
from .contrast import mat2gray
from .tiles import imtile

__all__ = ["filter_tiles", "filter_channels"]


def _weight4(weight: Any) -> np.ndarray:
    w = numeric(weight, "weight")
    if w.ndim != 4:
        raise ValueError(
            f"weight must be (O, I, kh, kw) like conv.weight, got shape {w.shape}; "
            "pass the convolution's weight, not a linear layer's"
        )
    if w.size == 0:
        raise ValueError(f"weight must not be empty, got shape {w.shape}")
    return w.astype(np.float32) if w.dtype == np.bool_ else w


def filter_tiles(weight: ArrayLike, *, padding: int = 1) -> np.ndarray:
    """All filters of a conv layer tiled into one float32 picture in [0, 1].

    With 3 input channels each filter is shown as an RGB image, normalised on its own over
    its ``3 x kh x kw`` values: result ``(H, W, 3)``. Otherwise each filter's mean over its
    input channels is shown, normalised on its own: result ``(H, W)``. Padding is white.

    >>> filter_tiles(np.ones((4, 8, 3, 3))).shape
    (9, 9)
    """
    w = _weight4(weight)
    o, i, kh, kw = w.shape
    if i == 3:
        rgb = mat2gray(w.reshape(o, -1), per_channel=True).reshape(o, 3, kh, kw)
        return imtile(np.moveaxis(rgb, 1, -1), padding=padding, pad_value=1.0)
    mean = w.mean(axis=1, dtype=np.float64)
    return imtile(mat2gray(mean, per_channel=True), padding=padding, pad_value=1.0)


def filter_channels(weight: ArrayLike, index: int) -> np.ndarray:
    """A float32 copy of filter ``index``'s weights, one ``(kh, kw)`` kernel per input: (I, kh, kw).

    Negative indices count from the end, as in Python.

    >>> filter_channels(np.arange(16.0).reshape(2, 2, 2, 2), 1)[0]
    array([[ 8.,  9.],
           [10., 11.]], dtype=float32)
    """
    w = _weight4(weight)
    o = w.shape[0]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an integer filter number, got {index!r}")
    if not -o <= index < o:
        raise IndexError(f"filter index {index} out of range: valid 0..{o - 1}")
    return np.array(w[int(index)], dtype=np.float32)
