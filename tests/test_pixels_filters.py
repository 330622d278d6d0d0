"""Tests for actwidgets.pixels.filters (filter pictures) and the package's exports."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import actwidgets as aw
from actwidgets import analysis, pixels
from actwidgets.pixels.filters import filter_channels, filter_tiles
from actwidgets.pixels.tiles import tile_box, tile_grid

from _pixels_helpers import FAST, public_names

MODULES = ["contrast", "tiles", "color", "resize", "views", "filters", "png"]


def test_filter_tiles_rgb() -> None:
    w = np.random.default_rng(0).normal(size=(5, 3, 4, 4)).astype(np.float32)
    w[2] = 0.5  # constant filter -> zeros
    out = filter_tiles(w)
    assert out.dtype == np.float32 and out.shape == (11, 16, 3)  # 2 x 3 grid of 4 x 4
    grid = tile_grid(5)
    for o in range(5):
        x0, y0, x1, y1 = tile_box(o, (4, 4), grid)
        tile = out[y0:y1, x0:x1]
        if o == 2:
            assert (tile == 0).all()
        else:
            assert tile.min() == 0.0 and tile.max() == 1.0  # each filter on its own
            # the tile is the filter as an RGB image, scaled over all its values
            f = np.moveaxis(w[o], 0, -1)
            np.testing.assert_allclose(tile, (f - f.min()) / (f.max() - f.min()), atol=1e-6)
    assert (out[0] == 1.0).all()  # white padding
    assert (out[y0:y1, x1:] == 1.0).all()  # the empty sixth cell too


def test_filter_tiles_gray_uses_mean_over_inputs() -> None:
    w = np.zeros((4, 2, 2, 2))
    w[1, 0] = [[0, 2], [4, 6]]
    w[1, 1] = [[0, 2], [4, 6]]
    out = filter_tiles(w, padding=0)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out[0:2, 2:4], [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    assert (out[0:2, 0:2] == 0).all()


@FAST
@given(
    o=st.integers(1, 12),
    i=st.sampled_from([1, 3, 4]),
    k=st.integers(1, 5),
    padding=st.integers(0, 2),
)
def test_filter_tiles_shape_and_no_mutation(o: int, i: int, k: int, padding: int) -> None:
    w = np.random.default_rng(o * 31 + k).normal(size=(o, i, k, k))
    before = w.copy()
    out = filter_tiles(w, padding=padding)
    rows, cols = tile_grid(o)
    expected = (rows * (k + padding) + padding, cols * (k + padding) + padding)
    assert out.shape == (expected + (3,) if i == 3 else expected)
    assert out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(w, before)


def test_filter_channels() -> None:
    w = np.arange(2 * 3 * 2 * 2, dtype=np.float64).reshape(2, 3, 2, 2)
    f = filter_channels(w, 1)
    assert f.dtype == np.float32 and f.shape == (3, 2, 2)
    np.testing.assert_array_equal(f, w[1])
    f[:] = -1
    assert w.min() == 0  # a copy
    np.testing.assert_array_equal(filter_channels(w, -1), w[1])
    with pytest.raises(IndexError, match="valid 0..1"):
        filter_channels(w, 2)
    with pytest.raises(TypeError, match="integer"):
        filter_channels(w, 1.0)
    with pytest.raises(ValueError, match="O, I, kh, kw"):
        filter_channels(w[0], 0)
    with pytest.raises(ValueError, match="empty"):
        filter_tiles(np.zeros((0, 3, 2, 2)))


# --------------------------------------------------------------------------- exports


@pytest.mark.parametrize("name", MODULES)
def test_all_exports_are_the_modules_public_names(name: str) -> None:
    """Each module's ``__all__`` lists exactly what it defines in public, each documented
    with a runnable example (tests/test_docs.py runs them)."""
    module = importlib.import_module(f"actwidgets.pixels.{name}")
    defined = public_names(module)
    assert defined <= set(module.__all__), f"not exported: {defined - set(module.__all__)}"
    for export in module.__all__:
        obj = getattr(module, export)
        if callable(obj) and export in defined and not isinstance(obj, type):
            assert ">>>" in (obj.__doc__ or ""), f"{name}.{export} has no example"
    assert module.__doc__.splitlines()[0].strip(), f"{name} has no one-line summary"


def test_package_exports_every_module_export() -> None:
    """actwidgets.pixels re-exports each module's functions and classes (constants and the
    PNG encoder's strategy choice stay in their modules)."""
    for name in MODULES:
        module = importlib.import_module(f"actwidgets.pixels.{name}")
        missing = set(module.__all__) - set(pixels.__all__)
        assert all(n.isupper() or n == "zlib_strategy" for n in missing), missing
        for export in set(module.__all__) - missing:
            assert getattr(pixels, export) is getattr(module, export)
    assert public_names(analysis) <= set(analysis.__all__)
    assert all(hasattr(analysis, n) for n in analysis.__all__)
    for name in ("mat2gray", "stretchlim", "imadjust", "imtile", "resize", "overlay", "filter_tiles",
                 "strongest_channel", "channel_stats", "rank_channels", "ChannelRanking", "freqz2"):
        assert name in aw.__all__ and getattr(aw, name) is not None
    assert aw.mat2gray is pixels.mat2gray and aw.rank_channels is analysis.rank_channels
