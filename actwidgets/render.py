"""Fast pictures for the widgets: activations to colour-mapped RGB arrays and PNG bytes.

This is the interactive path, so it avoids Python loops over pixels or channels. The RGB
arrays that :func:`render_grid` and :func:`render_channel` return are read-only and remember
the palette they were drawn with, which lets :func:`to_png` write a small indexed PNG
(a third of the bytes to compress); copy one (``img.copy()``) to draw on it.

>>> import numpy as np
>>> from actwidgets import render
>>> acts = np.random.default_rng(0).random((64, 14, 14), dtype=np.float32)
>>> png = render.to_png(render.render_grid(acts, selected=3))
>>> png[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from . import imageops
from .imageops import _as_array, _lut_of, _numeric, _rescale, _tile_into, tile_grid

__all__ = [
    "to_png",
    "normalize",
    "GridLayout",
    "grid_layout",
    "tile_at",
    "render_grid",
    "render_channel",
    "render_overlay",
    "side_by_side",
    "diverging",
]

CONTRASTS: tuple[str, ...] = ("minmax", "stretch")
_PAD_RGB = (255, 255, 255)  # colour of the padding between tiles
_MIN_SIDE = 400  # small tiles are enlarged until the grid's longer side reaches this
_STRETCH_TOL = 0.01


# --------------------------------------------------------------------------- PNG


class _Indexed(np.ndarray):
    """A read-only RGB array known to equal ``palette[indices]`` (see :func:`to_png`)."""

    _png_indexed: tuple[np.ndarray, np.ndarray] | None


def _indexed_rgb(indices: np.ndarray, palette: np.ndarray) -> np.ndarray:
    rgb = np.take(palette, indices, axis=0).view(_Indexed)
    rgb._png_indexed = (indices, palette)
    rgb.flags.writeable = False
    return rgb


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


_POOL: ThreadPoolExecutor | None = None
_PARALLEL_BYTES = 1 << 18  # compress in two threads (zlib frees the GIL) above 256 KiB


def _deflate(raw: np.ndarray) -> bytes:
    """zlib stream of ``raw`` at level 1 with run-length matching; two halves in parallel."""
    global _POOL
    buf = np.ascontiguousarray(raw).reshape(-1).data  # a memoryview of the bytes
    n = len(buf)
    if n < _PARALLEL_BYTES:
        c = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
        return c.compress(buf) + c.flush()

    def part(lo: int, hi: int, last: bool) -> bytes:
        c = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        return c.compress(buf[lo:hi]) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actwidgets-png")
    half = n // 2
    second = _POOL.submit(part, half, n, True)
    first = part(0, half, False)
    check = zlib.adler32(buf)
    return b"\x78\x01" + first + second.result() + struct.pack(">I", check)


def _png(rows: np.ndarray, width: int, height: int, color_type: int, palette: bytes = b"") -> bytes:
    """PNG file from ``rows`` (height, row_bytes) uint8, using the Up filter on every row."""
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 2  # filter type Up: each byte minus the byte above (mod 256)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    head = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    parts = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", head)]
    if palette:
        parts.append(_chunk(b"PLTE", palette))
    parts += [_chunk(b"IDAT", _deflate(filtered)), _chunk(b"IEND", b"")]
    return b"".join(parts)


def to_png(img: ArrayLike) -> bytes:
    """Encode a uint8 ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` image as PNG bytes, fast.

    Hand-rolled writer (zlib level 1, run-length strategy, Up filter; large images are
    compressed in two threads), faster than PIL's encoder at any ``compress_level``. Images
    from :func:`render_grid` / :func:`render_channel` are written as indexed PNGs.
    Decoding gives back exactly the same pixels.

    >>> to_png(np.zeros((2, 2), np.uint8))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    info = getattr(img, "_png_indexed", None)
    if info is not None and isinstance(img, np.ndarray) and not img.flags.writeable:
        indices, palette = info
        if indices.shape == img.shape[:2]:
            h, w = indices.shape
            return _png(indices, w, h, 3, np.ascontiguousarray(palette, np.uint8).tobytes())
    arr = _as_array(img, "img")
    if arr.dtype != np.uint8:
        raise TypeError(
            f"to_png needs uint8 pixels, got {arr.dtype}; convert [0, 1] floats with "
            "actwidgets.imageops.to_uint8"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"to_png takes (H, W), (H, W, 3) or (H, W, 4) images, got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"cannot encode an empty image of shape {arr.shape}")
    h, w = arr.shape[:2]
    color_type = {2: 0, 3: 2, 4: 6}[arr.ndim if arr.ndim == 2 else arr.shape[2]]
    return _png(np.ascontiguousarray(arr).reshape(h, -1), w, h, color_type)


# --------------------------------------------------------------------------- contrast


def _limits(flat: np.ndarray, contrast: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-row (lo, hi) float64 of a (C, N) array for the given contrast mode."""
    lo = flat.min(axis=1).astype(np.float64)
    hi = flat.max(axis=1).astype(np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("activations contain NaN or inf; replace them first (np.nan_to_num)")
    if contrast == "minmax":
        return lo, hi
    if contrast == "stretch":
        q = np.quantile(flat, [_STRETCH_TOL, 1.0 - _STRETCH_TOL], axis=1).astype(np.float64)
        same = q[0] >= q[1]
        return np.where(same, lo, q[0]), np.where(same, hi, q[1])
    raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")


def _acts(acts: ArrayLike, name: str = "acts") -> np.ndarray:
    arr = _numeric(_as_array(acts, name), name)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        hint = "; drop the batch axis with acts[0]" if arr.ndim == 4 else ""
        raise ValueError(f"{name} must be (C, H, W) or (H, W), got shape {arr.shape}{hint}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def normalize(acts: ArrayLike, contrast: str = "minmax", *, per_channel: bool = True) -> np.ndarray:
    """Scale activations to float32 [0, 1] for display.

    ``contrast="minmax"`` is :func:`~actwidgets.imageops.mat2gray`; ``"stretch"`` clips the
    lowest and highest 1% first (:func:`~actwidgets.imageops.imadjust` with
    :func:`~actwidgets.imageops.stretchlim`). Per channel of a ``(C, H, W)`` array by default;
    ``per_channel=False`` uses one scale for all channels. A constant channel gives zeros.

    >>> normalize(np.array([[[0.0, 2.0]], [[1.0, 3.0]]]))[:, 0]
    array([[0., 1.],
           [0., 1.]], dtype=float32)
    """
    arr = _numeric(_as_array(acts, "acts"), "acts")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.size == 0:
        raise ValueError(f"acts must not be empty, got shape {arr.shape}")
    if per_channel and arr.ndim >= 3:
        flat = arr.reshape(arr.shape[0], -1)
        shape = (arr.shape[0],) + (1,) * (arr.ndim - 1)
    else:
        flat = arr.reshape(1, -1)
        shape = (1,) * arr.ndim
    lo, hi = _limits(flat, contrast)
    return _rescale(arr, lo.reshape(shape), hi.reshape(shape))


# --------------------------------------------------------------------------- grid


class GridLayout(NamedTuple):
    """Geometry of a :func:`render_grid` picture (pixels; ``scale`` = tile enlargement)."""

    rows: int
    cols: int
    tile_h: int  # height of one tile after enlargement
    tile_w: int
    scale: int
    padding: int
    height: int
    width: int

    def box(self, index: int) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of tile ``index`` (exclusive end)."""
        return imageops.tile_box(index, (self.tile_h, self.tile_w), (self.rows, self.cols), self.padding)


def grid_layout(
    n_channels: int,
    tile_shape: tuple[int, int],
    *,
    padding: int = 1,
    max_side: int = 1024,
) -> GridLayout:
    """The layout :func:`render_grid` uses for ``n_channels`` tiles of ``(h, w)``.

    Tiles are enlarged by the smallest integer factor that makes the longer side at least
    400 px, but never beyond ``max_side`` (a grid already larger is not shrunk).

    >>> grid_layout(64, (7, 7)).scale
    7
    """
    rows, cols = tile_grid(n_channels)
    h, w = (int(v) for v in tile_shape)
    if h < 1 or w < 1:
        raise ValueError(f"tile_shape must be positive, got {tile_shape!r}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")

    def sides(k: int) -> tuple[int, int]:
        return rows * (h * k + padding) + padding, cols * (w * k + padding) + padding

    scale = 1
    while max(sides(scale)) < _MIN_SIDE and max(sides(scale + 1)) <= max_side:
        scale += 1
    height, width = sides(scale)
    return GridLayout(rows, cols, h * scale, w * scale, scale, padding, height, width)


def tile_at(layout: GridLayout, x: float, y: float, n_channels: int | None = None) -> int | None:
    """Channel index under pixel ``(x, y)`` of a grid picture, or None on padding/outside.

    >>> layout = grid_layout(4, (10, 10))  # tiles enlarged 20 times: 200 px + 1 px padding
    >>> tile_at(layout, 250, 3), tile_at(layout, 201, 3)
    (1, None)
    """
    step_x, step_y = layout.tile_w + layout.padding, layout.tile_h + layout.padding
    xi, yi = int(np.floor(x)) - layout.padding, int(np.floor(y)) - layout.padding
    if xi < 0 or yi < 0:
        return None
    c, rx = divmod(xi, step_x)
    r, ry = divmod(yi, step_y)
    if c >= layout.cols or r >= layout.rows or rx >= layout.tile_w or ry >= layout.tile_h:
        return None
    index = r * layout.cols + c
    if n_channels is not None and index >= n_channels:
        return None
    return index


def _palette(cmap: str | np.ndarray, levels: int, extra: Sequence[Sequence[int]]) -> np.ndarray:
    lut = _lut_of(cmap)
    pick = np.round(np.linspace(0, 255, levels)).astype(np.intp)
    pal = np.empty((levels + len(extra), 3), np.uint8)
    pal[:levels] = lut[pick]
    for i, rgb in enumerate(extra):
        pal[levels + i] = rgb
    return pal


def _rgb(color: Any, name: str) -> tuple[int, int, int]:
    try:
        r, g, b = (int(v) for v in color)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an (r, g, b) triple of 0..255, got {color!r}") from exc
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"{name} must hold values in 0..255, got {color!r}")
    return r, g, b


def _levels(
    arr: np.ndarray, contrast: str, levels: int, limits: tuple[float, float] | None = None
) -> np.ndarray:
    """(C, H, W) activations to uint8 indices 0..levels-1, scaled per channel."""
    if contrast not in CONTRASTS:
        raise ValueError(f"contrast must be one of {CONTRASTS}, got {contrast!r}")
    c = arr.shape[0]
    flat = arr.reshape(c, -1)
    if limits is None:
        lo, hi = _limits(flat, contrast)
    else:
        lo_s, hi_s = (float(v) for v in limits)
        if not (np.isfinite(lo_s) and np.isfinite(hi_s)) or lo_s >= hi_s:
            raise ValueError(f"limits must be finite with lo < hi, got {limits!r}")
        _limits(flat, "minmax")  # NaN/inf check
        lo, hi = np.full(c, lo_s), np.full(c, hi_s)
    v = _rescale(arr, lo[:, None, None], hi[:, None, None])  # float32 [0, 1], a new array
    v *= levels - 1
    v += 0.5
    return v.astype(np.uint8)


def render_grid(
    acts: ArrayLike,
    *,
    selected: int | None = None,
    cmap: str = "gray",
    contrast: str = "minmax",
    padding: int = 1,
    outline: tuple[int, int, int] = (255, 64, 0),
    max_side: int = 1024,
) -> np.ndarray:
    """All channels of ``(C, h, w)`` activations as one colour-mapped grid, (H, W, 3) uint8.

    Each channel is normalised on its own (``contrast`` as in :func:`normalize`), tiled row
    by row with ``padding`` white pixels around tiles, and colour-mapped (254 levels of
    ``cmap``). Small tiles are enlarged by an integer factor (nearest neighbour) so that the
    longer side reaches about 400 px without exceeding ``max_side``; see :func:`grid_layout`
    for the geometry. Tile ``selected`` gets a 2 px ``outline`` (in the padding first).
    The result is read-only; ``.copy()`` it to draw on it.

    >>> render_grid(np.zeros((64, 7, 7)), selected=0).shape  # 7x7 tiles enlarged 7 times
    (401, 401, 3)
    """
    arr = _acts(acts)
    c, h, w = arr.shape
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    layout = grid_layout(c, (h, w), padding=int(padding), max_side=max_side)
    levels = 254
    pad_idx, out_idx = levels, levels + 1
    palette = _palette(cmap, levels, [_PAD_RGB, _rgb(outline, "outline")])
    idx = _levels(arr, contrast, levels)
    canvas = np.full((layout.height, layout.width), pad_idx, dtype=np.uint8)
    _tile_into(canvas, idx, layout.cols, layout.padding, layout.scale)
    if selected is not None:
        if isinstance(selected, bool) or not isinstance(selected, (int, np.integer)):
            raise TypeError(f"selected must be a channel index or None, got {selected!r}")
        if not -c <= selected < c:
            raise IndexError(f"selected channel {selected} out of range: valid 0..{c - 1}")
        x0, y0, x1, y1 = layout.box(int(selected) % c)
        outer = min(layout.padding, 2)  # the 2 px ring uses the padding first
        ox0, oy0, ox1, oy1 = x0 - outer, y0 - outer, x1 + outer, y1 + outer
        canvas[oy0 : oy0 + 2, ox0:ox1] = out_idx
        canvas[oy1 - 2 : oy1, ox0:ox1] = out_idx
        canvas[oy0:oy1, ox0 : ox0 + 2] = out_idx
        canvas[oy0:oy1, ox1 - 2 : ox1] = out_idx
    return _indexed_rgb(canvas, palette)


def render_channel(
    channel: ArrayLike,
    *,
    size: tuple[int, int] | None = None,
    cmap: str = "gray",
    contrast: str = "minmax",
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """One ``(h, w)`` channel as a colour-mapped (H, W, 3) uint8 picture.

    Resized (bilinear) to ``size = (H, W)`` when given, then normalised (``contrast`` as in
    :func:`normalize`; ``limits=(lo, hi)`` fixes the scale instead, e.g. to compare two
    images) and colour-mapped with ``cmap``. The result is read-only.

    >>> render_channel(np.eye(3), size=(6, 6)).shape
    (6, 6, 3)
    """
    ch = _numeric(_as_array(channel, "channel"), "channel")
    if ch.ndim == 3 and ch.shape[0] == 1:
        ch = ch[0]
    if ch.ndim != 2 or ch.size == 0:
        raise ValueError(
            f"channel must be one (h, w) activation map, got shape {ch.shape}; pick one "
            "with acts[c]"
        )
    if ch.dtype == np.bool_:
        ch = ch.astype(np.uint8)
    if size is not None and tuple(size) != ch.shape:
        ch = imageops.resize(ch, size, method="bilinear")
    idx = _levels(ch[None], contrast, 256, limits)[0]
    return _indexed_rgb(idx, np.ascontiguousarray(_lut_of(cmap)))


def render_overlay(image: Any, channel: ArrayLike, *, cmap: str = "jet", alpha: float = 0.5) -> np.ndarray:
    """A channel blended over the image: :func:`actwidgets.imageops.overlay`.

    >>> render_overlay(np.zeros((8, 8, 3), np.uint8), np.eye(2)).shape
    (8, 8, 3)
    """
    return imageops.overlay(image, channel, cmap=cmap, alpha=alpha, normalize=True)


def side_by_side(images: Sequence[ArrayLike], *, gap: int = 4, fill: int = 255) -> np.ndarray:
    """uint8 images (RGB or gray) placed left to right, tops aligned, ``gap`` px apart.

    Space below shorter images and the gaps are ``fill`` (0..255).

    >>> side_by_side([np.zeros((2, 2, 3), np.uint8), np.zeros((3, 1, 3), np.uint8)], gap=1).shape
    (3, 4, 3)
    """
    if isinstance(images, np.ndarray) and images.ndim in (2, 3) and images.dtype == np.uint8:
        images = [images]
    items = []
    for i, im in enumerate(images):
        a = _as_array(im, f"images[{i}]")
        if a.dtype != np.uint8:
            raise TypeError(
                f"images[{i}] has dtype {a.dtype}; side_by_side takes uint8 images "
                "(convert [0, 1] floats with actwidgets.imageops.to_uint8)"
            )
        if a.ndim == 2:
            a = np.repeat(a[:, :, None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] != 3 or a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(f"images[{i}] must be (H, W) or (H, W, 3), got shape {a.shape}")
        items.append(a)
    if not items:
        raise ValueError("side_by_side needs at least one image")
    if gap < 0 or not 0 <= fill <= 255:
        raise ValueError(f"gap must be >= 0 and fill in 0..255, got gap={gap!r}, fill={fill!r}")
    height = max(a.shape[0] for a in items)
    width = sum(a.shape[1] for a in items) + gap * (len(items) - 1)
    out = np.full((height, width, 3), fill, dtype=np.uint8)
    x = 0
    for a in items:
        out[: a.shape[0], x : x + a.shape[1]] = a
        x += a.shape[1] + gap
    return out


def diverging(a: ArrayLike, cmap: str = "RdBu_r", *, vmax: float | None = None) -> np.ndarray:
    """Colour-map a signed map symmetrically around 0 (for differences): (H, W, 3) uint8.

    ``-vmax`` maps to the colormap's low end, 0 to its middle and ``+vmax`` to its high end;
    ``vmax`` defaults to max |a|. An all-zero map is the middle colour everywhere.

    >>> diverging(np.array([[-1.0, 0.0, 1.0]]), "gray")[0, :, 0]
    array([  0, 128, 255], dtype=uint8)
    """
    arr = _numeric(_as_array(a, "a"), "a")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
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
    return imageops.apply_colormap(v, cmap)
