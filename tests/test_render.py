"""Tests for actwidgets.render: PNG round trips, grids, outlines, composed views."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from actwidgets import render
from actwidgets.imageops import colormap_lut, mat2gray
from actwidgets.render import (
    diverging,
    grid_layout,
    normalize,
    render_channel,
    render_grid,
    render_overlay,
    side_by_side,
    tile_at,
    to_png,
)

FAST = settings(max_examples=50, deadline=None)
ORANGE = (255, 64, 0)


def _decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        if im.mode in ("P", "RGB"):
            return np.asarray(im.convert("RGB"))
        return np.asarray(im)


# --------------------------------------------------------------------------- to_png


@FAST
@given(
    img=hnp.arrays(
        np.uint8,
        st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
            st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([3, 4])),
        ),
    )
)
def test_to_png_round_trip(img: np.ndarray) -> None:
    before = img.copy()
    png = to_png(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as im:
        np.testing.assert_array_equal(np.asarray(im), img)
    np.testing.assert_array_equal(img, before)


def test_to_png_large_image_parallel_path() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (600, 700, 3), dtype=np.uint8)  # > 256 KiB: two threads
    img[100:300] = 17
    np.testing.assert_array_equal(_decode(to_png(img)), img)
    strided = img[::2, ::3]  # non-contiguous input
    np.testing.assert_array_equal(_decode(to_png(strided)), strided)


def test_to_png_errors() -> None:
    with pytest.raises(TypeError, match="to_uint8"):
        to_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        to_png(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        to_png(np.zeros((0, 2), np.uint8))


# --------------------------------------------------------------------------- normalize


def test_normalize_minmax_is_mat2gray() -> None:
    acts = np.random.default_rng(1).normal(size=(5, 6, 7)).astype(np.float32)
    acts[2] = 3.0
    np.testing.assert_allclose(normalize(acts), mat2gray(acts, per_channel=True))
    np.testing.assert_allclose(normalize(acts, per_channel=False), mat2gray(acts))
    assert (normalize(acts)[2] == 0).all()


def test_normalize_stretch_clips_outliers() -> None:
    ch = np.tile(np.arange(100, dtype=np.float32), (10, 1))
    ch[0, 0] = 1e6  # one wild value
    acts = np.stack([ch, ch * 2])
    out = normalize(acts, "stretch")
    assert out.shape == acts.shape and out.dtype == np.float32
    assert 0.4 < out[0, 5, 50] < 0.6  # the middle stays in the middle
    assert out[0, 0, 0] == 1.0
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    with pytest.raises(ValueError, match="contrast"):
        normalize(acts, "fancy")


# --------------------------------------------------------------------------- render_grid


def _acts(c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((c, h, w), dtype=np.float32)


def test_render_grid_shape_and_layout() -> None:
    acts = _acts(64, 113, 113)
    g = render_grid(acts)
    assert g.dtype == np.uint8 and g.shape == (913, 913, 3)
    lay = grid_layout(64, (113, 113))
    assert (lay.height, lay.width, lay.scale) == (913, 913, 1)
    small = render_grid(_acts(512, 14, 14))
    lay2 = grid_layout(512, (14, 14))
    assert lay2.scale == 2 and small.shape == (lay2.height, lay2.width, 3) == (668, 668, 3)
    tiny = grid_layout(64, (7, 7))
    assert 400 <= max(tiny.height, tiny.width) <= 1024 and tiny.scale == 7
    assert grid_layout(64, (7, 7), max_side=300).scale == 5  # 8 * (35 + 1) + 1 = 289 <= 300
    assert grid_layout(4, (600, 600)).scale == 1  # large grids are never shrunk


def test_render_grid_tiles_are_normalised_channels() -> None:
    acts = np.zeros((3, 2, 2), np.float32)
    acts[0] = [[0, 1], [2, 3]]
    acts[1] = 5.0  # constant -> lowest colour
    acts[2] = [[10, 0], [0, 0]]
    g = render_grid(acts, cmap="gray", max_side=4)  # no enlargement
    assert g.shape == (7, 7, 3)
    lay = grid_layout(3, (2, 2), max_side=4)
    x0, y0, x1, y1 = lay.box(0)
    np.testing.assert_array_equal(g[y0:y1, x0:x1, 0], [[0, 85], [170, 255]])
    x0, y0, x1, y1 = lay.box(1)
    assert (g[y0:y1, x0:x1] == 0).all()
    assert (g[0] == 255).all() and (g[:, 0] == 255).all()  # white padding
    x0, y0, x1, y1 = lay.box(3)  # empty cell
    assert (g[y0:y1, x0:x1] == 255).all()


@pytest.mark.parametrize("padding", [0, 1, 2, 3])
@pytest.mark.parametrize("shape", [(10, 14, 14), (64, 7, 7), (5, 30, 20)])
def test_render_grid_outline_around_selected(padding: int, shape: tuple[int, int, int]) -> None:
    acts = _acts(*shape)
    sel = shape[0] - 2
    g = render_grid(acts, selected=sel, padding=padding, cmap="gray")
    lay = grid_layout(shape[0], shape[1:], padding=padding)
    is_orange = np.all(g == ORANGE, axis=2)
    x0, y0, x1, y1 = lay.box(sel)
    o = min(padding, 2)
    ring = np.zeros_like(is_orange)
    ring[y0 - o : y1 + o, x0 - o : x1 + o] = True
    ring[y0 - o + 2 : y1 + o - 2, x0 - o + 2 : x1 + o - 2] = False
    np.testing.assert_array_equal(is_orange, ring)  # exactly a 2 px ring, nowhere else
    plain = render_grid(acts, padding=padding, cmap="gray")
    assert not np.all(plain == ORANGE, axis=2).any()
    inside = (slice(y0 - o + 2, y1 + o - 2), slice(x0 - o + 2, x1 + o - 2))
    np.testing.assert_array_equal(g[inside], plain[inside])  # content untouched


def test_render_grid_custom_outline_and_cmap() -> None:
    acts = _acts(4, 9, 9)
    g = render_grid(acts, selected=0, outline=(0, 255, 0), cmap="viridis")
    assert np.all(g == (0, 255, 0), axis=2).any()
    lut = colormap_lut("viridis")
    lay = grid_layout(4, (9, 9))
    x0, y0, x1, y1 = lay.box(3)
    tile = g[y0:y1, x0:x1].reshape(-1, 3)
    # every pixel of a tile is a colour of the viridis table
    codes = lut.astype(np.int64) @ [65536, 256, 1]
    assert np.isin(tile.astype(np.int64) @ [65536, 256, 1], codes).all()


def test_render_grid_png_matches_pixels_and_is_readonly() -> None:
    acts = _acts(20, 14, 14)
    g = render_grid(acts, selected=3, cmap="magma")
    assert not g.flags.writeable
    np.testing.assert_array_equal(_decode(to_png(g)), g)
    view = g[5:50, 3:40]
    np.testing.assert_array_equal(_decode(to_png(view)), view)
    c = g.copy()
    c[:10] = 0
    np.testing.assert_array_equal(_decode(to_png(c)), c)


def test_render_grid_errors_and_no_mutation() -> None:
    acts = _acts(6, 5, 5)
    before = acts.copy()
    render_grid(acts, selected=2, contrast="stretch")
    np.testing.assert_array_equal(acts, before)
    with pytest.raises(IndexError, match="valid 0..5"):
        render_grid(acts, selected=6)
    with pytest.raises(ValueError, match="contrast"):
        render_grid(acts, contrast="nope")
    with pytest.raises(ValueError, match=r"acts\[0\]"):
        render_grid(acts[None])
    bad = acts.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        render_grid(bad)


def test_tile_at_inverts_box() -> None:
    lay = grid_layout(10, (14, 14))
    for i in range(10):
        x0, y0, x1, y1 = lay.box(i)
        assert tile_at(lay, x0, y0) == i and tile_at(lay, x1 - 1, y1 - 1) == i
        assert tile_at(lay, x1, y0) != i
    assert tile_at(lay, 0, 0) is None
    assert tile_at(lay, lay.width - 2, lay.height - 2, n_channels=10) is None  # empty cell


# --------------------------------------------------------------------------- channel views


def test_render_channel() -> None:
    ch = np.array([[0.0, 1.0], [2.0, 4.0]], dtype=np.float32)
    out = render_channel(ch, cmap="gray")
    np.testing.assert_array_equal(out[:, :, 0], [[0, 64], [128, 255]])
    big = render_channel(ch, size=(227, 227))
    assert big.shape == (227, 227, 3)
    assert len(np.unique(big[:, :, 0])) > 20  # bilinear, not blocky nearest
    fixed = render_channel(ch, cmap="gray", limits=(0, 8))
    np.testing.assert_array_equal(fixed[:, :, 0], [[0, 32], [64, 128]])
    np.testing.assert_array_equal(_decode(to_png(big)), big)
    with pytest.raises(ValueError, match=r"acts\[c\]"):
        render_channel(np.zeros((2, 3, 3)))


def test_render_overlay_and_diverging() -> None:
    img = np.full((20, 30, 3), 200, np.uint8)
    out = render_overlay(img, np.eye(4), alpha=0.0)
    np.testing.assert_array_equal(out, img)
    d = diverging(np.array([[-2.0, 0.0, 1.0, 2.0]]), "gray")
    np.testing.assert_array_equal(d[0, :, 0], [0, 128, 191, 255])
    z = diverging(np.zeros((3, 3)))
    mid = colormap_lut("RdBu_r")[128]
    assert (z == mid).all()
    v = diverging(np.array([[-1.0, 1.0]]), "gray", vmax=4.0)
    np.testing.assert_array_equal(v[0, :, 0], [96, 159])
    with pytest.raises(ValueError, match="NaN"):
        diverging(np.array([[np.inf]]))


def test_side_by_side() -> None:
    a = np.zeros((4, 3, 3), np.uint8)
    b = np.full((6, 2), 9, np.uint8)  # gray is promoted to RGB
    out = side_by_side([a, b], gap=2, fill=255)
    assert out.shape == (6, 7, 3)
    assert (out[:4, :3] == 0).all() and (out[4:, :3] == 255).all()
    assert (out[:, 3:5] == 255).all() and (out[:, 5:] == 9).all()
    with pytest.raises(TypeError, match="uint8"):
        side_by_side([a.astype(float)])
    with pytest.raises(ValueError):
        side_by_side([])


def test_all_exports_exist() -> None:
    for name in render.__all__:
        assert hasattr(render, name), name
