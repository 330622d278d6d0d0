"""PNG bytes, written by Pillow: palette mode for colour-mapped pictures, a fast compression level.

>>> to_png(np.zeros((2, 2), np.uint8))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import io
import zlib
from typing import Any

import numpy as np
from PIL import Image

from .checks import as_array
from .color import Indexed

__all__ = ["to_png", "to_pil", "zlib_strategy", "COMPRESS_LEVEL", "REPEATED_ROWS_SHARE"]

#: zlib level: 1 is the fastest that compresses (the widgets redraw on every slider step).
COMPRESS_LEVEL = 1
#: Where at least this share of rows repeat the row above (enlarged pictures), zlib's default
#: strategy, which finds those rows (a third of the bytes of run-length matching alone); else
#: ``Z_RLE``, run-length matching only: as small within 20 % and up to twice as fast (a
#: 913 x 913 grid). ``benchmarks/render.py`` compares them.
REPEATED_ROWS_SHARE = 0.25


def to_pil(img: Any) -> Image.Image:
    """A Pillow image of an :class:`~.color.Indexed` picture (mode "P") or of a uint8
    ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array (mode "L", "RGB" or "RGBA").

    >>> to_pil(np.zeros((2, 3, 3), np.uint8)).size
    (3, 2)
    """
    if isinstance(img, Indexed):
        pil = Image.fromarray(np.ascontiguousarray(img.index))
        pil.putpalette(img.palette.tobytes(), "RGB")
        return pil
    arr = as_array(img, "img")
    if arr.dtype != np.uint8:
        raise TypeError(
            f"to_png needs uint8 pixels, got {arr.dtype}; convert [0, 1] floats with "
            "actwidgets.pixels.to_uint8"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    channels = 1 if arr.ndim == 2 else arr.shape[2] if arr.ndim == 3 else 0
    if channels not in (1, 3, 4):
        raise ValueError(f"to_png takes (H, W), (H, W, 3) or (H, W, 4) images, got {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"cannot encode an empty image of shape {arr.shape}")
    return Image.fromarray(np.ascontiguousarray(arr))  # mode L, RGB or RGBA from the shape


def to_png(img: Any) -> bytes:
    """PNG bytes of an :class:`~.color.Indexed` picture (a palette PNG) or a uint8 image.

    Decoding gives back exactly the same pixels. See :func:`to_pil` for what is accepted.

    >>> to_png(np.zeros((2, 2), np.uint8))[:4]
    b'\\x89PNG'
    """
    pil = to_pil(img)
    buf = io.BytesIO()
    pil.save(buf, "PNG", compress_level=COMPRESS_LEVEL, compress_type=zlib_strategy(img))
    return buf.getvalue()


def zlib_strategy(img: Any) -> int:
    """The zlib strategy :func:`to_png` uses for a picture (see :data:`REPEATED_ROWS_SHARE`).

    >>> zlib_strategy(np.zeros((4, 4), np.uint8)) == zlib.Z_DEFAULT_STRATEGY  # all rows repeat
    True
    """
    rows = img.index if isinstance(img, Indexed) else as_array(img, "img")
    rows = rows.reshape(rows.shape[0], -1)
    repeated = np.count_nonzero((rows[1:] == rows[:-1]).all(axis=1))
    return zlib.Z_DEFAULT_STRATEGY if repeated >= REPEATED_ROWS_SHARE * (len(rows) - 1) else zlib.Z_RLE
