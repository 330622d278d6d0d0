"""Helpers shared by the tests of actwidgets.pixels and actwidgets.analysis."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

FAST = settings(max_examples=50, deadline=None)

finite_floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)
chw_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.uint8, np.int16]),
    shape=hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6),
    elements=st.integers(0, 200),
)


def frozen_copy(a: np.ndarray) -> tuple[np.ndarray, bool]:
    """What :func:`unchanged` compares against: a copy and the writeable flag."""
    return a.copy(), a.flags.writeable


def unchanged(a: np.ndarray, before: tuple[np.ndarray, bool]) -> bool:
    copy, writeable = before
    return np.array_equal(a, copy, equal_nan=a.dtype.kind == "f") and a.flags.writeable == writeable


def decode(png: bytes) -> np.ndarray:
    """The pixels of PNG bytes; palette pictures as RGB."""
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        if im.mode == "P":
            return np.asarray(im.convert("RGB"))
        return np.asarray(im)


def public_names(module: object) -> set[str]:
    """Names a module defines itself (functions, classes) that do not start with ``_``."""
    return {
        name for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
