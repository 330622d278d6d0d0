"""Tests for actwidgets.filters: filter pictures and freqz2."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actwidgets import filters
from actwidgets.filters import filter_channels, filter_tiles, freqz2
from actwidgets.imageops import tile_box, tile_grid

FAST = settings(max_examples=50, deadline=None)


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
    with pytest.raises(ValueError, match="O, I, kh, kw"):
        filter_channels(w[0], 0)


def test_freqz2_horizontal_difference() -> None:
    n = 64
    H, fx, fy = freqz2(np.array([[1.0, -1.0]]), n=n)
    assert H.shape == (n, n) and fx.shape == fy.shape == (n,)
    assert fx[0] == -1.0 and fx[n // 2] == 0.0 and fx[-1] < 1.0
    dc = (n // 2, n // 2)
    assert H[dc] == pytest.approx(0.0, abs=1e-12)
    row = H[n // 2]
    assert abs(fx[np.argmax(row)]) == 1.0 and row.max() == pytest.approx(2.0)
    assert np.allclose(H, H[n // 2][None, :])  # constant along fy
    np.testing.assert_allclose(row, 2 * np.abs(np.sin(np.pi * fx / 2)), atol=1e-12)


def test_freqz2_lowpass_and_errors() -> None:
    H, fx, fy = freqz2(np.ones((3, 3)) / 9, n=32)
    assert H[16, 16] == pytest.approx(1.0) and H.max() == pytest.approx(1.0)
    odd, fxo, _ = freqz2(np.ones((2, 2)), n=9)
    assert odd.shape == (9, 9) and fxo[4] == 0 and -1 < fxo[0] < 0
    with pytest.raises(ValueError, match="n must be"):
        freqz2(np.ones((5, 5)), n=4)
    with pytest.raises(ValueError, match="2-D"):
        freqz2(np.ones((2, 2, 2)))


def test_all_exports_exist() -> None:
    for name in filters.__all__:
        assert hasattr(filters, name), name
