"""Measuring activations and filters: per-channel statistics, channel ranking by region, frequency response.

Activations are ``(C, H, W)`` arrays (one image, channels first). Inputs are never modified.

>>> acts = np.zeros((3, 4, 4)); acts[1, 0, 0] = 9.0; acts[2, :2, :2] = 1.0
>>> strongest_channel(acts), rank_channels(acts, (0, 0, 8, 8), image_size=(16, 16)).order.tolist()
(1, [2, 1, 0])
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .pixels.checks import activation_maps, as_array, number_pair, numeric, positive_int

__all__ = [
    "strongest_channel",
    "channel_stats",
    "ChannelRanking",
    "rank_channels",
    "robust_scale",
    "OUTLIER_SHARE",
    "freqz2",
]

#: :func:`robust_scale` ignores this share of each channel's largest |values| (at least one).
OUTLIER_SHARE = 0.01


def _finite(values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        raise ValueError("acts contains NaN or inf; replace them first, e.g. np.nan_to_num(acts)")


def strongest_channel(acts: ArrayLike) -> int:
    """Index of the channel with the largest maximum activation (first on ties).

    >>> a = np.zeros((3, 2, 2)); a[1, 0, 0] = 5.0
    >>> strongest_channel(a)
    1
    """
    arr = activation_maps(acts)
    mx = arr.reshape(arr.shape[0], -1).max(axis=1)
    _finite(mx.astype(np.float64))
    return int(np.argmax(mx))


def channel_stats(acts: ArrayLike) -> dict[str, np.ndarray]:
    """Per-channel ``max``, ``min``, ``mean`` and ``frac_zero`` (float64 arrays of shape (C,)).

    ``frac_zero`` is the fraction of exact zeros: after a ReLU, the channel's sparsity.

    >>> channel_stats(np.array([[[0.0, 2.0]], [[1.0, 1.0]]]))["frac_zero"]
    array([0.5, 0. ])
    """
    arr = activation_maps(acts)
    flat = arr.reshape(arr.shape[0], -1)
    return {
        "max": flat.max(axis=1).astype(np.float64),
        "min": flat.min(axis=1).astype(np.float64),
        "mean": flat.mean(axis=1, dtype=np.float64),
        "frac_zero": np.count_nonzero(flat == 0, axis=1) / flat.shape[1],
    }


# --------------------------------------------------------------------------- ranking


class ChannelRanking(NamedTuple):
    """Channels ranked by a score: ``order`` best first, ``scores`` indexed by channel."""

    order: np.ndarray
    scores: np.ndarray


def _area_matrix(n_out: int, n_in: float, edges: np.ndarray | None = None) -> np.ndarray:
    """(n_out, len(edges)-1) overlap fractions of input intervals within output cells.

    Output cell i spans [i * n_in / n_out, (i + 1) * n_in / n_out) in input units; input
    interval j spans [edges[j], edges[j + 1]). Entry = overlap length / cell length.
    """
    if edges is None:
        edges = np.arange(int(n_in) + 1, dtype=np.float64)
    cell = n_in / n_out
    c0 = np.arange(n_out, dtype=np.float64)[:, None] * cell
    ov = np.minimum(c0 + cell, edges[None, 1:]) - np.maximum(c0, edges[None, :-1])
    return np.clip(ov, 0.0, None) / cell


def _is_box(region: Any) -> bool:
    if isinstance(region, np.ndarray):
        return region.shape == (4,) and region.dtype.kind in "iuf"
    return (
        isinstance(region, (tuple, list))
        and len(region) == 4
        and all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in region
        )
    )


def _box_weights(box: Any, h: int, w: int, image_size: tuple[int, int] | None) -> np.ndarray:
    if image_size is None:
        raise ValueError(
            "a box region (x0, y0, x1, y1) needs image_size=(H, W) of the image it was measured on"
        )
    ih, iw = number_pair(image_size, "image_size")
    if not (ih > 0 and iw > 0):
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1, y0, y1 = max(x0, 0.0), min(x1, iw), max(y0, 0.0), min(y1, ih)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(
            f"box {tuple(box)} covers nothing of an image of size {(ih, iw)}; "
            "boxes are (x0, y0, x1, y1) with x the column"
        )
    wy = _area_matrix(h, ih, np.array([y0, y1]))[:, 0]
    wx = _area_matrix(w, iw, np.array([x0, x1]))[:, 0]
    return np.outer(wy, wx)


def _region_weights(region: Any, h: int, w: int, image_size: tuple[int, int] | None) -> np.ndarray:
    """Fraction of each (h, w) activation cell's area that lies inside the region."""
    if _is_box(region):
        return _box_weights(region, h, w, image_size)
    mask = as_array(region, "region")
    if mask.dtype.kind not in "biuf":
        raise TypeError("region must be a bool mask (H, W) or a box (x0, y0, x1, y1) with image_size")
    if mask.ndim != 2 or mask.size == 0:
        raise ValueError(f"a region mask must be 2-D (H, W), got shape {mask.shape}")
    if image_size is not None and tuple(int(v) for v in image_size) != mask.shape:
        raise ValueError(
            f"mask shape {mask.shape} does not match image_size {tuple(image_size)}; "
            "leave image_size out for a mask"
        )
    m = mask.astype(np.float64)
    if not np.all(np.isfinite(m)) or m.min() < 0 or m.max() > 1:
        raise ValueError("a region mask must be bool (or weights in [0, 1])")
    return _area_matrix(h, mask.shape[0]) @ m @ _area_matrix(w, mask.shape[1]).T


def robust_scale(acts: ArrayLike) -> np.ndarray:
    """Each channel's typical peak ``|value|``, which one outlying cell cannot set: (C,) float64.

    The channel's largest |values| are passed over, 1 % of its cells (:data:`OUTLIER_SHARE`)
    but at least one, and the next is its scale; where that is 0 (a channel with that few
    non-zero cells), its largest ``|value|`` is.

    >>> robust_scale(np.array([[[1.0, 1.0, 1.0, 90.0]], [[0.0, 0.0, 0.0, 3.0]]])).tolist()
    [1.0, 3.0]
    """
    arr = activation_maps(acts)
    mag = np.abs(arr.reshape(arr.shape[0], -1).astype(np.float64))
    _finite(mag)
    n = mag.shape[1]
    k = min(n, 1 + max(1, math.floor(OUTLIER_SHARE * n)))  # the k-th largest
    kth = np.partition(mag, n - k, axis=1)[:, n - k]
    return np.where(kth > 0, kth, mag.max(axis=1))


def rank_channels(
    acts: ArrayLike,
    region: Any,
    *,
    top: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> ChannelRanking:
    """Rank channels by how much more they fire inside an image region than outside.

    ``region`` is a bool mask ``(H, W)`` in image coordinates (any size; each activation cell
    takes the fraction of its area inside the mask) or a box ``(x0, y0, x1, y1)`` together
    with ``image_size=(H, W)``. The score of a channel is a winsorised, scaled difference of
    means: with ``s`` its :func:`robust_scale`, its values are clipped to ``[-s, s]`` and the
    score is ``(weighted mean inside - weighted mean outside) / s``, in [-2, 2]. So one
    bright cell counts as at most ``s``, which it cannot set: it cannot sink a channel that
    fires all over the region (dividing by the peak ``|value|`` would let it).

    >>> acts = np.zeros((3, 4, 4)); acts[2, :2, :2] = 1.0
    >>> rank_channels(acts, (0, 0, 8, 8), image_size=(16, 16)).order
    array([2, 0, 1])
    """
    arr = activation_maps(acts)
    c, h, w = arr.shape
    if top is not None:
        top = positive_int(top, "top")
    wts = _region_weights(region, h, w, image_size).reshape(-1)
    inside = float(wts.sum())
    outside = float(wts.size - inside)
    if inside <= 1e-9:
        raise ValueError("the region is empty: draw a mask or box that covers part of the image")
    if outside <= 1e-9:
        raise ValueError(
            "the region covers the whole image, so there is no outside to compare with; "
            "use a smaller mask or box"
        )
    s = robust_scale(arr)[:, None]
    clipped = np.clip(arr.reshape(c, -1).astype(np.float64), -s, s)
    diff = (clipped @ wts) / inside - (clipped @ (1.0 - wts)) / outside
    scores = np.divide(diff, s[:, 0], out=np.zeros(c), where=s[:, 0] > 0)
    order = np.argsort(-scores, kind="stable")[:top]
    return ChannelRanking(order=order.astype(np.intp), scores=scores)


# --------------------------------------------------------------------------- frequency response


def freqz2(kernel: ArrayLike, n: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Magnitude of a 2-D kernel's frequency response on an ``n x n`` grid, like MATLAB's freqz2.

    Returns ``(H, fx, fy)``: ``H[iy, ix]`` is the response at horizontal frequency
    ``fx[ix]`` and vertical frequency ``fy[iy]``; frequencies are normalised to [-1, 1)
    with 1 the Nyquist frequency (half the sampling rate), 0 (DC) in the middle.

    >>> H, fx, fy = freqz2(np.array([[1.0, -1.0]]), n=8)
    >>> float(H[4, 4]), float(H[4, 0]), float(fx[0])
    (0.0, 2.0, -1.0)
    """
    k = numeric(kernel, "kernel")
    if k.ndim == 1:
        k = k[None, :]
    if k.ndim != 2 or k.size == 0:
        raise ValueError(
            f"kernel must be one 2-D (kh, kw) kernel, got shape {k.shape}; "
            "pick one with filter_channels(weight, o)[i]"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < max(k.shape):
        raise ValueError(f"n must be an integer >= the kernel size {max(k.shape)}, got {n!r}; 64 is usual")
    kk = k.astype(np.float64)
    if not np.all(np.isfinite(kk)):
        raise ValueError("kernel contains NaN or inf")
    spectrum = np.fft.fftshift(np.abs(np.fft.fft2(kk, s=(int(n), int(n)))))
    freqs = np.fft.fftshift(np.fft.fftfreq(int(n))) * 2.0
    return spectrum, freqs.copy(), freqs.copy()
