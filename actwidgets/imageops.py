"""Numpy image operations: normalise, tile, resize, colour-map, overlay, statistics, ranking.

Everything here works on plain arrays and returns new arrays; inputs are never modified.
Activations are ``(C, H, W)`` arrays (one image, channels first), as the extractor gives
them once the batch axis is dropped.

>>> import numpy as np
>>> from actwidgets import imageops
>>> acts = np.random.default_rng(0).random((6, 5, 5)).astype(np.float32)
>>> imageops.imtile(imageops.mat2gray(acts, per_channel=True)).shape
(13, 19)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from PIL import Image

__all__ = [
    "mat2gray",
    "stretchlim",
    "imadjust",
    "tile_grid",
    "imtile",
    "tile_box",
    "resize",
    "colormap_lut",
    "apply_colormap",
    "overlay",
    "strongest_channel",
    "channel_stats",
    "ChannelRanking",
    "rank_channels",
    "to_uint8",
]

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


# --------------------------------------------------------------------------- helpers


def _as_array(a: Any, name: str = "array") -> np.ndarray:
    """Return ``a`` as a numpy array without copying when possible (never to be written to).

    Torch tensors are accepted by duck typing (``.detach().cpu().numpy()``).
    """
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "cpu") and hasattr(a, "numpy"):
        t = a.detach().cpu()
        try:
            return t.numpy()
        except TypeError:  # bfloat16 and friends have no numpy dtype
            return t.float().numpy()
    try:
        arr = np.asarray(a)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be array-like, got {type(a).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(
            f"{name} must be a numeric array, got {type(a).__name__} that numpy reads as "
            "objects; pass a numpy array or a list of numbers"
        )
    return arr


def _numeric(a: np.ndarray, name: str = "array") -> np.ndarray:
    """Check that ``a`` holds real numbers (bool allowed) and return it."""
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {a.dtype}; convert it with "
            "np.asarray(x, dtype=np.float32) (or take np.abs of a complex array)"
        )
    return a


def _work_dtype(a: np.ndarray, span: float) -> type:
    """float32 when it is exact enough and cannot overflow, else float64."""
    if a.dtype.kind == "f" and a.dtype.itemsize > 4:
        return np.float64
    if a.dtype.kind in "iu" and a.dtype.itemsize > 2:
        return np.float64
    if not math.isfinite(span) or span > 1e37:  # float32 would overflow
        return np.float64
    return np.float32


def _check_finite_limits(lo: np.ndarray, hi: np.ndarray, name: str) -> None:
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError(
            f"{name} contains NaN or inf; replace them first, e.g. np.nan_to_num(x)"
        )


def _rescale(
    a: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float, out_dtype: type = np.float32
) -> np.ndarray:
    """(a - lo) / (hi - lo) clipped to [0, 1]; zero where hi == lo. Broadcasts lo/hi."""
    lo64 = np.asarray(lo, dtype=np.float64)
    span = np.asarray(hi, dtype=np.float64) - lo64
    wd = _work_dtype(a, float(np.max(span)) if span.size else 0.0)
    den: np.ndarray = np.asarray(span, dtype=wd)
    den = np.where(den > 0, den, wd(1.0))  # constant channel: a - lo is 0, so the result is 0
    res = np.subtract(a, lo64.astype(wd), dtype=wd)  # a new array: the input is untouched
    res /= den
    np.clip(res, 0.0, 1.0, out=res)
    return res.astype(out_dtype, copy=False)


# --------------------------------------------------------------------------- contrast


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
    arr = _numeric(_as_array(a, "a"), "a")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.size == 0:
        return np.zeros(arr.shape, np.float32)
    if limits is not None:
        lo, hi = _pair(limits, "limits")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise ValueError(
                f"limits must be finite with lo < hi, got {limits!r}; pass e.g. (0.0, 1.0)"
            )
        amin, amax = float(arr.min()), float(arr.max())
        _check_finite_limits(np.array(amin), np.array(amax), "a")
        return _rescale(arr, lo, hi)
    if per_channel:
        if arr.ndim < 2:
            raise ValueError(
                f"per_channel=True needs a (C, H, W)-like array with channels first, got shape "
                f"{arr.shape}; use per_channel=False for a single image"
            )
        flat = arr.reshape(arr.shape[0], -1)
        lo = flat.min(axis=1).astype(np.float64)
        hi = flat.max(axis=1).astype(np.float64)
        _check_finite_limits(lo, hi, "a")
        shape = (arr.shape[0],) + (1,) * (arr.ndim - 1)
        return _rescale(arr, lo.reshape(shape), hi.reshape(shape))
    lo_s, hi_s = float(arr.min()), float(arr.max())
    _check_finite_limits(np.array(lo_s), np.array(hi_s), "a")
    return _rescale(arr, lo_s, hi_s)


def _pair(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = value
        return float(lo), float(hi)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a pair of numbers (lo, hi), got {value!r}") from exc


def _tol_pair(tol: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(tol, (int, float, np.integer, np.floating)):
        t = float(tol)
        if not 0.0 <= t < 0.5:
            raise ValueError(f"tol must lie in [0, 0.5), got {tol!r}; 0.01 clips 1% at each end")
        return t, 1.0 - t
    low, high = _pair(tol, "tol")
    if not 0.0 <= low < high <= 1.0:
        raise ValueError(
            f"tol as a pair (low, high) needs 0 <= low < high <= 1, got {tol!r}; "
            "e.g. (0.01, 0.99)"
        )
    return low, high


def stretchlim(a: ArrayLike, tol: float | tuple[float, float] = 0.01) -> tuple[float, float]:
    """Contrast-stretch limits of ``a``: its values at the quantiles ``tol`` and ``1 - tol``.

    Like MATLAB's ``stretchlim`` but in the data's own units. ``tol`` may be a pair
    ``(low, high)`` of quantiles. If both limits coincide, ``(min, max)`` is returned.

    >>> stretchlim(np.arange(101), tol=0.05)
    (5.0, 95.0)
    """
    arr = _numeric(_as_array(a, "a"), "a")
    if arr.size == 0:
        raise ValueError("stretchlim needs a non-empty array")
    low, high = _tol_pair(tol)
    flat = arr.reshape(-1)
    if flat.dtype == np.bool_:
        flat = flat.astype(np.uint8)
    amin, amax = float(flat.min()), float(flat.max())
    _check_finite_limits(np.array(amin), np.array(amax), "a")
    lo, hi = (float(v) for v in np.quantile(flat, [low, high]))
    if lo >= hi:
        return amin, amax
    return lo, hi


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
    arr = _numeric(_as_array(a, "a"), "a")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    g = float(gamma)
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gamma must be a positive number, got {gamma!r}; 1.0 is linear")
    olo, ohi = _pair(out, "out")
    if arr.size == 0:
        return np.zeros(arr.shape, np.float32)
    if limits is None:
        lo, hi = stretchlim(arr)
    else:
        lo, hi = _pair(limits, "limits")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise ValueError(f"limits must be finite with lo <= hi, got {limits!r}")
        _check_finite_limits(np.array(float(arr.min())), np.array(float(arr.max())), "a")
    if lo == hi:
        res = np.where(arr > lo, ohi, olo).astype(np.float32)
        return res
    res = _rescale(arr, lo, hi, np.float64 if arr.dtype == np.float64 else np.float32)
    if g != 1.0:
        np.power(res, g, out=res)
    if (olo, ohi) != (0.0, 1.0):
        res *= ohi - olo
        res += olo
    return res.astype(np.float32, copy=False)


def to_uint8(a01: ArrayLike) -> np.ndarray:
    """Values in [0, 1] to uint8 0..255 (scaled, rounded, clipped; NaN becomes 0).

    >>> to_uint8(np.array([0.0, 0.5, 1.0, 2.0]))
    array([  0, 128, 255, 255], dtype=uint8)
    """
    arr = _numeric(_as_array(a01, "a01"), "a01")
    if arr.dtype == np.uint8:
        raise TypeError(
            "to_uint8 expects values in [0, 1] (float); this array is already uint8"
        )
    t = np.multiply(arr, 255.0, dtype=np.float32 if arr.dtype != np.float64 else np.float64)
    t += 0.5
    np.clip(t, 0.0, 255.0, out=t)
    np.nan_to_num(t, copy=False, nan=0.0)
    return t.astype(np.uint8)


# --------------------------------------------------------------------------- tiling


def _positive_int(v: Any, name: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def tile_grid(n: int, grid: tuple[int | None, int | None] | None = None) -> tuple[int, int]:
    """Rows and columns of a grid for ``n`` tiles.

    Default: ``cols = ceil(sqrt(n))``, ``rows = ceil(n / cols)``. ``grid=(rows, cols)`` is
    used as given; one entry may be ``None`` to have it computed.

    >>> tile_grid(10), tile_grid(10, (None, 5)), tile_grid(10, (2, 5))
    ((3, 4), (2, 5), (2, 5))
    """
    n = _positive_int(n, "n")
    if grid is None:
        cols = math.isqrt(n)
        if cols * cols < n:
            cols += 1
        return -(-n // cols), cols
    try:
        r, c = grid
    except (TypeError, ValueError) as exc:
        raise TypeError(f"grid must be (rows, cols), either may be None; got {grid!r}") from exc
    if r is None and c is None:
        return tile_grid(n)
    if r is None:
        c = _positive_int(c, "grid cols")
        return -(-n // c), c
    if c is None:
        r = _positive_int(r, "grid rows")
        return r, -(-n // r)
    r, c = _positive_int(r, "grid rows"), _positive_int(c, "grid cols")
    if r * c < n:
        raise ValueError(
            f"grid {r}x{c} holds {r * c} tiles but there are {n}; enlarge it or pass "
            "(rows, None) to compute the columns"
        )
    return r, c


def _tile_into(
    canvas: np.ndarray, tiles: np.ndarray, cols: int, padding: int, scale: int = 1
) -> None:
    """Write ``tiles`` (N, h, w[, k]) into ``canvas`` in row-major order, each tile
    upscaled ``scale`` times by pixel repetition, ``padding`` pixels around every tile."""
    n, h, w = tiles.shape[:3]
    extra = tiles.shape[3:]
    th, tw = h * scale, w * scale
    sy, sx = canvas.strides[:2]
    rest = canvas.strides[2:]
    base = canvas[padding:, padding:]
    full_rows, rem = divmod(n, cols)

    def view(nrows: int, ncols: int, row0: int) -> np.ndarray:
        sub = base[row0 * (th + padding) :]
        return np.lib.stride_tricks.as_strided(
            sub,
            shape=(nrows, ncols, h, scale, w, scale) + extra,
            strides=((th + padding) * sy, (tw + padding) * sx, scale * sy, sy, scale * sx, sx)
            + rest,
            writeable=True,
        )

    if full_rows:
        src = tiles[: full_rows * cols].reshape((full_rows, cols, h, 1, w, 1) + extra)
        view(full_rows, cols, 0)[...] = src
    if rem:
        src = tiles[full_rows * cols :].reshape((1, rem, h, 1, w, 1) + extra)
        view(1, rem, full_rows)[...] = src


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
    arr = _numeric(_as_array(images, "images"), "images")
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[3] != 3):
        raise ValueError(
            f"images must be (N, H, W) or (N, H, W, 3), got shape {arr.shape}; "
            "for one image add an axis with x[None]"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"images must not be empty, got shape {arr.shape}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    padding = int(padding)
    n, h, w = arr.shape[:3]
    rows, cols = tile_grid(n, grid)
    out_dtype = np.uint8 if arr.dtype == np.uint8 else np.float32
    pv = np.asarray(pad_value, dtype=np.float64)
    if pv.ndim > 1 or (pv.ndim == 1 and (arr.ndim != 4 or pv.shape[0] != 3)):
        raise ValueError(
            f"pad_value must be a number (or 3 numbers for RGB tiles), got {pad_value!r}"
        )
    if out_dtype == np.uint8:
        if np.any(pv < 0) or np.any(pv > 1):
            raise ValueError(
                f"for uint8 images pad_value is given in [0, 1] (scaled by 255), got {pad_value!r}"
            )
        pv = np.round(pv * 255.0)
    shape = (rows * (h + padding) + padding, cols * (w + padding) + padding) + arr.shape[3:]
    canvas = np.empty(shape, out_dtype)
    canvas[...] = pv.astype(out_dtype)
    _tile_into(canvas, arr, cols, padding)
    return canvas


def tile_box(
    index: int, tile_shape: tuple[int, int], grid: tuple[int, int], padding: int = 1
) -> tuple[int, int, int, int]:
    """Box ``(x0, y0, x1, y1)`` (exclusive end) of tile ``index`` in :func:`imtile` output.

    ``tile_shape`` is ``(H, W)`` of one tile and ``grid`` is ``(rows, cols)``.

    >>> tile_box(5, (2, 3), (2, 4), padding=1)
    (5, 4, 8, 6)
    """
    rows, cols = (_positive_int(v, "grid entry") for v in grid)
    h, w = (_positive_int(v, "tile_shape entry") for v in tile_shape)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an integer, got {index!r}")
    if not 0 <= index < rows * cols:
        raise IndexError(f"tile index {index} out of range: valid 0..{rows * cols - 1}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    r, c = divmod(int(index), cols)
    x0 = padding + c * (w + padding)
    y0 = padding + r * (h + padding)
    return x0, y0, x0 + w, y0 + h


# --------------------------------------------------------------------------- resize / colour


def resize(channel: ArrayLike, size: tuple[int, int], *, method: str = "bilinear") -> np.ndarray:
    """Resize one ``(H, W)`` channel to ``size = (h, w)`` as float32 (PIL mode "F").

    ``method`` is "nearest", "bilinear" or "bicubic". Downscaling is antialiased.

    >>> resize(np.eye(2), (4, 4), method="nearest")[0]
    array([1., 1., 0., 0.], dtype=float32)
    """
    arr = _numeric(_as_array(channel, "channel"), "channel")
    if arr.ndim != 2:
        raise ValueError(f"resize takes one (H, W) channel, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("resize needs a non-empty channel")
    if method not in _RESAMPLE:
        raise ValueError(f"method must be one of {sorted(_RESAMPLE)}, got {method!r}")
    h, w = (_positive_int(v, "size entry") for v in size)
    src = np.ascontiguousarray(arr, dtype=np.float32)
    if (h, w) == src.shape:
        return src.copy() if src is arr else src
    img = Image.fromarray(src)  # float32 (H, W) gives PIL mode "F"
    return np.asarray(img.resize((w, h), _RESAMPLE[method]), dtype=np.float32).copy()


@lru_cache(maxsize=64)
def _lut(name: str) -> np.ndarray:
    import matplotlib  # colormap tables only; never pyplot

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        names = sorted(matplotlib.colormaps)
        close = difflib.get_close_matches(name, names, n=5)
        hint = f"did you mean {', '.join(close)}?" if close else "e.g. gray, viridis, jet, inferno"
        raise ValueError(f"unknown colormap {name!r}; {hint}") from None
    rgba = cmap(np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255.0).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def colormap_lut(name: str) -> np.ndarray:
    """The (256, 3) uint8 lookup table of a matplotlib colormap (cached, read-only).

    >>> colormap_lut("gray")[[0, 255]]
    array([[  0,   0,   0],
           [255, 255, 255]], dtype=uint8)
    """
    if not isinstance(name, str):
        raise TypeError(f"colormap name must be a string such as 'viridis', got {name!r}")
    return _lut(name)


def _lut_of(cmap: str | np.ndarray) -> np.ndarray:
    if isinstance(cmap, str):
        return colormap_lut(cmap)
    lut = np.asarray(cmap)
    if lut.shape != (256, 3) or lut.dtype != np.uint8:
        raise ValueError("cmap must be a colormap name or a (256, 3) uint8 lookup table")
    return lut


def _index01(a01: np.ndarray, levels: int = 256) -> np.ndarray:
    """[0, 1] floats to uint8 indices 0..levels-1 (rounded, clipped, NaN to 0)."""
    t = np.multiply(a01, levels - 1, dtype=np.float32)
    t += 0.5
    np.clip(t, 0.0, levels - 0.5, out=t)
    np.nan_to_num(t, copy=False, nan=0.0)
    return t.astype(np.uint8)


def apply_colormap(a01: ArrayLike, cmap: str | np.ndarray = "viridis") -> np.ndarray:
    """Colour-map values in [0, 1] (clipped first) to uint8 RGB, shape ``a01.shape + (3,)``.

    ``cmap`` is a matplotlib colormap name or a (256, 3) uint8 table.

    >>> apply_colormap(np.array([[0.0, 1.0]]), "gray")
    array([[[  0,   0,   0],
            [255, 255, 255]]], dtype=uint8)
    """
    arr = _numeric(_as_array(a01, "a01"), "a01")
    if arr.dtype == np.uint8:
        raise TypeError(
            "apply_colormap expects values in [0, 1]; divide uint8 data by 255 first "
            "(or index the table directly: colormap_lut(name)[x])"
        )
    lut = _lut_of(cmap)
    return np.take(lut, _index01(arr), axis=0)


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
    :func:`mat2gray` when ``normalize`` (else clipped to [0, 1]), colour-mapped and mixed:
    ``(1 - alpha) * image + alpha * colours``. ``image`` is anything
    :func:`actwidgets.images.load_image` accepts.

    >>> img = np.zeros((8, 8, 3), np.uint8)
    >>> overlay(img, np.eye(2), alpha=1.0).shape
    (8, 8, 3)
    """
    a = float(alpha)
    if not 0.0 <= a <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        img = image
    else:
        from .images import load_image

        img = load_image(image)
    ch = _numeric(_as_array(channel, "channel"), "channel")
    if ch.ndim != 2:
        raise ValueError(
            f"channel must be one (h, w) activation map, got shape {ch.shape}; "
            "pick one with acts[c]"
        )
    h, w = img.shape[:2]
    big = resize(ch, (h, w), method="bilinear")
    if normalize:
        v = mat2gray(big)
    else:
        if not np.all(np.isfinite(big)):
            raise ValueError("channel contains NaN or inf")
        v = np.clip(big, 0.0, 1.0)
    heat = apply_colormap(v, cmap)
    mix = img.astype(np.float32) * (1.0 - a)
    mix += heat.astype(np.float32) * a
    mix += 0.5
    np.clip(mix, 0, 255, out=mix)
    return mix.astype(np.uint8)


# --------------------------------------------------------------------------- statistics


def _acts3(acts: ArrayLike) -> np.ndarray:
    arr = _numeric(_as_array(acts, "acts"), "acts")
    if arr.ndim != 3:
        hint = " drop the batch axis with acts[0]" if arr.ndim == 4 else ""
        raise ValueError(f"acts must be (C, H, W), got shape {arr.shape};{hint}".rstrip(";"))
    if arr.size == 0:
        raise ValueError(f"acts must not be empty, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    return arr


def strongest_channel(acts: ArrayLike) -> int:
    """Index of the channel with the largest maximum activation (first on ties).

    >>> a = np.zeros((3, 2, 2)); a[1, 0, 0] = 5.0
    >>> strongest_channel(a)
    1
    """
    arr = _acts3(acts)
    mx = arr.reshape(arr.shape[0], -1).max(axis=1)
    if not np.all(np.isfinite(mx.astype(np.float64))):
        raise ValueError("acts contains NaN or inf")
    return int(np.argmax(mx))


def channel_stats(acts: ArrayLike) -> dict[str, np.ndarray]:
    """Per-channel ``max``, ``min``, ``mean`` and ``frac_zero`` (float64 arrays of shape (C,)).

    ``frac_zero`` is the fraction of exact zeros: after a ReLU, the channel's sparsity.

    >>> channel_stats(np.array([[[0.0, 2.0]], [[1.0, 1.0]]]))["frac_zero"]
    array([0.5, 0. ])
    """
    arr = _acts3(acts)
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
    c1 = c0 + cell
    ov = np.minimum(c1, edges[None, 1:]) - np.maximum(c0, edges[None, :-1])
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


def _region_weights(
    region: Any, h: int, w: int, image_size: tuple[int, int] | None
) -> np.ndarray:
    """Fraction of each (h, w) activation cell's area that lies inside the region."""
    if _is_box(region):
        if image_size is None:
            raise ValueError(
                "a box region (x0, y0, x1, y1) needs image_size=(H, W) of the image it "
                "was measured on"
            )
        ih, iw = (float(v) for v in _pair(image_size, "image_size"))
        if not (ih > 0 and iw > 0):
            raise ValueError(f"image_size must be positive, got {image_size!r}")
        x0, y0, x1, y1 = (float(v) for v in region)
        x0, x1 = max(x0, 0.0), min(x1, iw)
        y0, y1 = max(y0, 0.0), min(y1, ih)
        if x1 <= x0 or y1 <= y0:
            raise ValueError(
                f"box {tuple(region)} covers nothing of an image of size {(ih, iw)}; "
                "boxes are (x0, y0, x1, y1) with x the column"
            )
        wy = _area_matrix(h, ih, np.array([y0, y1]))[:, 0]
        wx = _area_matrix(w, iw, np.array([x0, x1]))[:, 0]
        return np.outer(wy, wx)
    mask = _as_array(region, "region")
    if mask.dtype.kind not in "biuf":
        raise TypeError(
            "region must be a bool mask (H, W) or a box (x0, y0, x1, y1) with image_size"
        )
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
    ry = _area_matrix(h, mask.shape[0])
    rx = _area_matrix(w, mask.shape[1])
    return ry @ m @ rx.T


def rank_channels(
    acts: ArrayLike,
    region: Any,
    *,
    top: int | None = None,
    image_size: tuple[int, int] | None = None,
) -> ChannelRanking:
    """Rank channels by how much more they fire inside an image region than outside.

    ``region`` is a bool mask ``(H, W)`` in image coordinates (any size; each activation
    cell takes the fraction of its area inside the mask) or a box ``(x0, y0, x1, y1)``
    together with ``image_size=(H, W)``. Each channel is first divided by its max |value|;
    its score is the weighted mean inside minus the weighted mean outside.

    >>> acts = np.zeros((3, 4, 4)); acts[2, :2, :2] = 1.0
    >>> rank_channels(acts, (0, 0, 8, 8), image_size=(16, 16)).order
    array([2, 0, 1])
    """
    arr = _acts3(acts)
    c, h, w = arr.shape
    if top is not None:
        top = _positive_int(top, "top")
    wts = _region_weights(region, h, w, image_size)
    inside = float(wts.sum())
    outside = float(wts.size - inside)
    if inside <= 1e-9:
        raise ValueError("the region is empty: draw a mask or box that covers part of the image")
    if outside <= 1e-9:
        raise ValueError(
            "the region covers the whole image, so there is no outside to compare with; "
            "use a smaller mask or box"
        )
    flat = arr.reshape(c, -1).astype(np.float64)
    if not np.all(np.isfinite(flat)):
        raise ValueError("acts contains NaN or inf")
    peak = np.abs(flat).max(axis=1)
    scale = np.where(peak > 0, 1.0 / np.where(peak > 0, peak, 1.0), 0.0)
    wv = wts.reshape(-1)
    mean_in = (flat @ wv) / inside
    mean_out = (flat @ (1.0 - wv)) / outside
    scores = (mean_in - mean_out) * scale
    order = np.argsort(-scores, kind="stable")
    if top is not None:
        order = order[:top]
    return ChannelRanking(order=order.astype(np.intp), scores=scores)
