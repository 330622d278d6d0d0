"""Contrast: to [0, 1] (mat2gray, per-channel min-max or percentile stretch), stretchlim, imadjust, to uint8.

One implementation underneath: :func:`contrast_limits` finds the ``(lo, hi)`` of a whole array
or of each channel (its min and max, or its 1 % and 99 % quantiles) and ``_rescale`` maps
``[lo, hi]`` onto ``[0, 1]``; the MATLAB-style functions and the widgets' per-channel scaling
(:func:`normalize_channels`) are built from these two. Inputs are never modified.

>>> acts = np.array([[[0.0, 2.0]], [[1.0, 3.0]]])
>>> normalize_channels(acts)[:, 0].tolist()
[[0.0, 1.0], [0.0, 1.0]]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import activation_maps, number_pair, numeric

__all__ = [
    "CONTRASTS",
    "STRETCH_TOL",
    "contrast_limits",
    "normalize_channels",
    "mat2gray",
    "stretchlim",
    "imadjust",
    "to_levels",
    "to_uint8",
]

#: How :func:`normalize_channels` may scale: min to max, or the 1 % to the 99 % quantile.
CONTRASTS: tuple[str, ...] = ("minmax", "stretch")

#: The share of values clipped at each end by the "stretch" contrast and by :func:`stretchlim`.
STRETCH_TOL = 0.01


def _real(a: Any, name: str = "a") -> np.ndarray:
    arr = numeric(a, name)
    return arr.astype(np.uint8) if arr.dtype == np.bool_ else arr


def _work_dtype(a: np.ndarray, span: float) -> type:
    """float32 when it is exact enough and cannot overflow, else float64."""
    if a.dtype.kind == "f" and a.dtype.itemsize > 4:
        return np.float64
    if a.dtype.kind in "iu" and a.dtype.itemsize > 2:
        return np.float64
    if not math.isfinite(span) or span > 1e37:  # float32 would overflow
        return np.float64
    return np.float32


def _rescale(
    a: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, out_dtype: type = np.float32
) -> np.ndarray:
    """(a - lo) / (hi - lo) clipped to [0, 1] in a new array; 0 where hi == lo. Broadcasts."""
    lo64 = np.asarray(lo, dtype=np.float64)
    span = np.asarray(hi, dtype=np.float64) - lo64
    wd = _work_dtype(a, float(np.max(span)) if span.size else 0.0)
    den: np.ndarray = np.asarray(span, dtype=wd)
    den = np.where(den > 0, den, wd(1.0))  # constant channel: a - lo is 0, so the result is 0
    res = np.subtract(a, lo64.astype(wd), dtype=wd)
    res /= den
    np.clip(res, 0.0, 1.0, out=res)
    return res.astype(out_dtype, copy=False)


def _limits(flat: np.ndarray, quantiles: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (lo, hi) float64 of a (rows, N) array: min and max, or the two quantiles
    (min and max where those coincide)."""
    lo = flat.min(axis=1).astype(np.float64)
    hi = flat.max(axis=1).astype(np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("the values contain NaN or inf; replace them first, e.g. np.nan_to_num(x)")
    if quantiles is None:
        return lo, hi
    q = np.quantile(flat, quantiles, axis=1).astype(np.float64)
    same = q[0] >= q[1]
    return np.where(same, lo, q[0]), np.where(same, hi, q[1])


def contrast_limits(
    a: ArrayLike, contrast: str = "minmax", *, per_channel: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The ``(lo, hi)`` that ``contrast`` maps to 0 and 1, shaped to broadcast against ``a``.

    ``"minmax"``: the minimum and maximum. ``"stretch"``: the :data:`STRETCH_TOL` and
    ``1 - STRETCH_TOL`` quantiles (the min and max where those coincide). Over the whole array,
    or over each ``a[i]`` with ``per_channel=True``. NaN or inf raise a ValueError.

    >>> lo, hi = contrast_limits(np.array([[0, 5], [10, 20]]), per_channel=True)
    >>> lo.ravel().tolist(), hi.ravel().tolist()
    ([0.0, 10.0], [5.0, 20.0])
    """
    arr = _real(a)
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    if arr.size == 0:
        raise ValueError(f"cannot find the contrast limits of an empty array of shape {arr.shape}")
    if per_channel and arr.ndim < 2:
        raise ValueError(
            f"per_channel=True needs a (C, H, W)-like array with channels first, got shape "
            f"{arr.shape}; use per_channel=False for a single image"
        )
    rows = arr.shape[0] if per_channel else 1
    quantiles = None if contrast == "minmax" else (STRETCH_TOL, 1.0 - STRETCH_TOL)
    lo, hi = _limits(arr.reshape(rows, -1), quantiles)
    shape = (rows,) + (1,) * (arr.ndim - 1) if per_channel else (1,) * arr.ndim
    return lo.reshape(shape), hi.reshape(shape)


def normalize_channels(acts: ArrayLike, contrast: str = "minmax", *, per_channel: bool = True) -> np.ndarray:
    """Activations ``(C, H, W)`` (or one ``(H, W)`` map) scaled to float32 [0, 1] for display.

    ``contrast`` as in :func:`contrast_limits`: ``"minmax"`` is :func:`mat2gray`, ``"stretch"``
    is :func:`imadjust` with :func:`stretchlim`'s limits. Each channel on its own by default;
    ``per_channel=False`` uses one scale for all. A constant channel gives zeros.

    >>> normalize_channels(np.array([[0.0, 1.0, 4.0]]), per_channel=False).tolist()
    [[0.0, 0.25, 1.0]]
    """
    arr = activation_maps(acts, allow_2d=True)
    out = _rescale(arr, *contrast_limits(arr, contrast, per_channel=per_channel))
    return out.reshape(np.shape(acts))


def mat2gray(
    a: ArrayLike,
    *,
    per_channel: bool = False,
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Scale ``a`` linearly to float32 [0, 1], like MATLAB's ``mat2gray``.

    By default the minimum and maximum of the whole array map to 0 and 1. With
    ``per_channel=True`` each ``a[i]`` (channel of a ``(C, H, W)`` array) is scaled on its
    own. ``limits=(lo, hi)`` maps ``lo`` to 0 and ``hi`` to 1 and clips outside. A constant
    array (or channel) gives zeros, never NaN.

    >>> mat2gray(np.array([[0, 5], [10, 20]]))
    array([[0.  , 0.25],
           [0.5 , 1.  ]], dtype=float32)
    """
    arr = _real(a)
    if arr.size == 0:
        return np.zeros(arr.shape, np.float32)
    if limits is None:
        return _rescale(arr, *contrast_limits(arr, per_channel=per_channel))
    lo, hi = number_pair(limits, "limits")
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise ValueError(f"limits must be finite with lo < hi, got {limits!r}; pass e.g. (0.0, 1.0)")
    _limits(arr.reshape(1, -1), None)  # NaN / inf check
    return _rescale(arr, lo, hi)


def _tol_pair(tol: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(tol, (int, float, np.integer, np.floating)):
        t = float(tol)
        if not 0.0 <= t < 0.5:
            raise ValueError(f"tol must lie in [0, 0.5), got {tol!r}; 0.01 clips 1% at each end")
        return t, 1.0 - t
    low, high = number_pair(tol, "tol")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(
            f"tol as a pair (low, high) needs 0 <= low < high <= 1, got {tol!r}; e.g. (0.01, 0.99)"
        )
    return low, high


def stretchlim(a: ArrayLike, tol: float | tuple[float, float] = STRETCH_TOL) -> tuple[float, float]:
    """Contrast-stretch limits of ``a``: its values at the quantiles ``tol`` and ``1 - tol``.

    Like MATLAB's ``stretchlim`` but in the data's own units. ``tol`` may be a pair
    ``(low, high)`` of quantiles. If both limits coincide, ``(min, max)`` is returned.

    >>> stretchlim(np.arange(101), tol=0.05)
    (5.0, 95.0)
    """
    arr = _real(a)
    if arr.size == 0:
        raise ValueError("stretchlim needs a non-empty array")
    lo, hi = _limits(arr.reshape(1, -1), _tol_pair(tol))
    return float(lo[0]), float(hi[0])


def imadjust(
    a: ArrayLike,
    limits: tuple[float, float] | None = None,
    out: tuple[float, float] = (0.0, 1.0),
    gamma: float = 1.0,
) -> np.ndarray:
    """Map values in ``limits`` to ``out`` (float32), like MATLAB's ``imadjust``.

    Values are clipped to ``limits = (lo, hi)`` (default ``stretchlim(a)``), scaled to
    [0, 1], raised to ``gamma`` and mapped linearly onto ``out`` (``out`` may be reversed to
    invert). If ``lo == hi`` the result is ``out[0]`` at or below ``lo`` and ``out[1]`` above.

    >>> imadjust(np.array([0.0, 1.0, 2.0, 3.0, 4.0]), limits=(1, 3))
    array([0. , 0. , 0.5, 1. , 1. ], dtype=float32)
    """
    arr = _real(a)
    g = float(gamma)
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gamma must be a positive number, got {gamma!r}; 1.0 is linear")
    olo, ohi = number_pair(out, "out")
    if arr.size == 0:
        return np.zeros(arr.shape, np.float32)
    if limits is None:
        lo, hi = stretchlim(arr)
    else:
        lo, hi = number_pair(limits, "limits")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"limits must be finite with lo <= hi, got {limits!r}")
        _limits(arr.reshape(1, -1), None)  # NaN / inf check
    if lo == hi:
        return np.where(arr > lo, ohi, olo).astype(np.float32)
    res = _rescale(arr, lo, hi, np.float64 if arr.dtype == np.float64 else np.float32)
    if g != 1.0:
        np.power(res, g, out=res)
    if (olo, ohi) != (0.0, 1.0):
        res *= ohi - olo
        res += olo
    return res.astype(np.float32, copy=False)


def _quantize(t: np.ndarray, levels: int) -> np.ndarray:
    """uint8 levels of ``t`` (a float array this call may overwrite), values in [0, 1]."""
    t *= levels - 1
    t += 0.5
    np.clip(t, 0.0, levels - 1, out=t)
    np.nan_to_num(t, copy=False, nan=0.0)
    return t.astype(np.uint8)


def to_levels(a01: ArrayLike, levels: int = 256) -> np.ndarray:
    """Values in [0, 1] to uint8 levels ``0..levels-1`` (scaled, rounded, clipped; NaN is 0).

    >>> to_levels(np.array([0.0, 0.4, 1.0, 9.0]), levels=3)
    array([0, 1, 2, 2], dtype=uint8)
    """
    arr = numeric(a01, "a01")
    if arr.dtype == np.uint8:
        raise TypeError(
            "expected values in [0, 1], but this array is uint8 already; divide it by 255 "
            "first (or index a colormap table directly: colormap_lut(name)[x])"
        )
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an integer in 2..256, got {levels!r}")
    return _quantize(np.array(arr, dtype=np.float64 if arr.dtype == np.float64 else np.float32), int(levels))


def to_uint8(a01: ArrayLike) -> np.ndarray:
    """Values in [0, 1] to uint8 0..255 (scaled, rounded, clipped; NaN becomes 0).

    >>> to_uint8(np.array([0.0, 0.5, 1.0, 2.0]))
    array([  0, 128, 255, 255], dtype=uint8)
    """
    return to_levels(a01, 256)
