"""Learned convolution filters as pictures, and their 2-D frequency response.

Weights are ``(O, I, kh, kw)`` arrays (output channels, input channels, kernel height and
width), as in ``conv.weight.detach().numpy()``.

>>> import numpy as np
>>> from actwidgets import filters
>>> w = np.random.default_rng(0).normal(size=(64, 3, 11, 11)).astype(np.float32)
>>> filters.filter_tiles(w).shape
(97, 97, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .imageops import _as_array, _numeric, imtile, mat2gray

__all__ = ["filter_tiles", "filter_channels", "freqz2"]


def _weight4(weight: Any) -> np.ndarray:
    w = _numeric(_as_array(weight, "weight"), "weight")
    if w.ndim != 4:
        raise ValueError(
            f"weight must be (O, I, kh, kw) like conv.weight, got shape {w.shape}; "
            "pass the convolution's weight, not a linear layer's"
        )
    if w.size == 0:
        raise ValueError(f"weight must not be empty, got shape {w.shape}")
    if w.dtype == np.bool_:
        w = w.astype(np.float32)
    return w


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


def freqz2(kernel: ArrayLike, n: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnitude of a 2-D kernel's frequency response on an ``n x n`` grid, like MATLAB's freqz2.

    Returns ``(H, fx, fy)``: ``H[iy, ix]`` is the response at horizontal frequency
    ``fx[ix]`` and vertical frequency ``fy[iy]``; frequencies are normalised to [-1, 1)
    with 1 the Nyquist frequency (half the sampling rate), 0 (DC) in the middle.

    >>> H, fx, fy = freqz2(np.array([[1.0, -1.0]]), n=8)
    >>> float(H[4, 4]), float(H[4, 0]), float(fx[0])
    (0.0, 2.0, -1.0)
    """
    k = _numeric(_as_array(kernel, "kernel"), "kernel")
    if k.ndim == 1:
        k = k[None, :]
    if k.ndim != 2 or k.size == 0:
        raise ValueError(
            f"kernel must be one 2-D (kh, kw) kernel, got shape {k.shape}; "
            "pick one with filter_channels(weight, o)[i]"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < max(k.shape):
        raise ValueError(
            f"n must be an integer >= the kernel size {max(k.shape)}, got {n!r}; 64 is usual"
        )
    kk = k.astype(np.float64)
    if not np.all(np.isfinite(kk)):
        raise ValueError("kernel contains NaN or inf")
    spectrum = np.fft.fftshift(np.abs(np.fft.fft2(kk, s=(int(n), int(n)))))
    freqs = np.fft.fftshift(np.fft.fftfreq(int(n))) * 2.0
    return spectrum, freqs.copy(), freqs.copy()
