"""Sprite sheets and the size of an exported page.

A sheet holds every channel of one image at one point for one contrast: the (C, h, w) grid
levels tiled row by row without padding (:func:`actwidgets.pixels.imtile`, the grid's rows
and columns), written as a greyscale PNG and inlined as a base64 data URI. Before encoding
them all, the export estimates each sheet from a sample of its tile rows.

>>> levels = np.zeros((10, 3, 4), np.uint8)
>>> sheet(levels).shape  # 10 tiles on a 3 x 4 grid
(9, 16)
>>> data_uri(png_bytes(sheet(levels)))[:22]
'data:image/png;base64,'
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Mapping

import numpy as np

from .. import pixels

__all__ = ["sheet", "png_bytes", "data_uri", "uri_length", "estimate_png", "share_by_layer",
           "ExportTooLargeError", "refusal", "PNG_LEVEL", "DATA_URI"]

#: zlib level of the sheets (written once, read many times: smaller beats faster here).
PNG_LEVEL = 6
#: Every sheet's data URI starts so.
DATA_URI = "data:image/png;base64,"
#: Sheets of at most this many pixels, or of few tile rows, are encoded whole to estimate them.
EXACT_BELOW = 65_536
#: Else one tile row in this many is encoded (evenly spaced, at least two).
SAMPLE_EVERY = 4
_PNG_OVERHEAD = 57  # signature, IHDR, one IDAT header, IEND


class ExportTooLargeError(ValueError):
    """The page would be larger than ``max_mb``; the message names the costliest layers."""


def sheet(levels: np.ndarray) -> np.ndarray:
    """The (rows * h, cols * w) sprite sheet of (C, h, w) levels, on the grid's rows and columns."""
    rows_cols = pixels.tile_grid(levels.shape[0])
    return pixels.imtile(levels, grid=rows_cols, padding=0, pad_value=0)


def png_bytes(picture: np.ndarray) -> bytes:
    """A greyscale (or RGB) uint8 picture as PNG bytes, zlib level :data:`PNG_LEVEL`."""
    buf = io.BytesIO()
    pixels.to_pil(picture).save(buf, "PNG", compress_level=PNG_LEVEL)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:image/png;base64,...`` URI."""
    return DATA_URI + base64.b64encode(png).decode("ascii")


def uri_length(png_size: float) -> float:
    """Characters of the data URI of ``png_size`` PNG bytes."""
    return len(DATA_URI) + 4 * math.ceil(png_size / 3)


def estimate_png(levels: np.ndarray) -> float:
    """The PNG size of ``sheet(levels)``, from every ``SAMPLE_EVERY``-th tile row scaled up
    by the share of tiles encoded (exact for small sheets).

    >>> rng = np.random.default_rng(0)
    >>> levels = rng.integers(0, 254, (256, 8, 8), dtype=np.uint8)
    >>> 0.9 < estimate_png(levels) / len(png_bytes(sheet(levels))) < 1.1
    True
    """
    c = levels.shape[0]
    rows, cols = pixels.tile_grid(c)
    if rows < 2 * SAMPLE_EVERY or levels.size <= EXACT_BELOW:
        return float(len(png_bytes(sheet(levels))))
    picked = np.unique(np.linspace(0, rows - 1, max(2, -(-rows // SAMPLE_EVERY))).round().astype(int))
    channels = np.concatenate([np.arange(r * cols, min((r + 1) * cols, c)) for r in picked])
    part = pixels.imtile(levels[channels], grid=(len(picked), cols), padding=0, pad_value=0)
    body = len(png_bytes(part)) - _PNG_OVERHEAD
    return _PNG_OVERHEAD + body * c / len(channels)


def share_by_layer(point_bytes: Mapping[str, float],
                   layers: Iterable[tuple[str, tuple[str, ...]]]) -> dict[str, float]:
    """Bytes per layer: each point's bytes split evenly among the layers that show it.

    >>> share_by_layer({"a": 10.0, "b": 4.0}, [("conv", ("a", "b")), ("relu", ("a", "b"))])
    {'conv': 7.0, 'relu': 7.0}
    """
    layers = [(name, tuple(dict.fromkeys(points))) for name, points in layers]
    users: dict[str, int] = {}
    for _, points in layers:
        for p in points:
            users[p] = users.get(p, 0) + 1
    return {name: sum(point_bytes[p] / users[p] for p in points) for name, points in layers}


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def refusal(total: float, max_mb: float, by_layer: Mapping[str, float],
            shared: Mapping[str, str], n: int = 5) -> ExportTooLargeError:
    """The error for a page of ``total`` bytes over ``max_mb``, naming the ``n`` costliest
    layers (``shared``: layer → another layer it shares its pictures with)."""
    top = sorted(by_layer.items(), key=lambda kv: -kv[1])[:n]
    named = ", ".join(
        f"{name} {_mb(size)}" + (f" (its pictures shared with {shared[name]})" if name in shared else "")
        for name, size in top
    )
    return ExportTooLargeError(
        f"the page would be about {_mb(total)}, more than max_mb={max_mb:g}. The layers that "
        f"cost most: {named}. Choose fewer layers (layers=[...]) or images, keep one contrast "
        "(contrasts=('minmax',) halves the pictures), or raise max_mb."
    )
