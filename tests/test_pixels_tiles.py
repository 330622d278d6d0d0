"""Tests for actwidgets.pixels.tiles: grid shapes, imtile, tile boxes, grid layouts, outlines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actwidgets.pixels.tiles import grid_layout, imtile, outline, tile_box, tile_grid

from _pixels_helpers import FAST, frozen_copy, unchanged


def test_tile_grid() -> None:
    assert tile_grid(1) == (1, 1)
    assert tile_grid(10) == (3, 4)
    assert tile_grid(16) == (4, 4)
    assert tile_grid(17) == (4, 5)
    assert tile_grid(64) == (8, 8)
    assert tile_grid(512) == (23, 23)
    assert tile_grid(10, (None, 3)) == (4, 3)
    assert tile_grid(10, (2, None)) == (2, 5)
    assert tile_grid(10, (1, 10)) == (1, 10)
    assert tile_grid(10, (None, None)) == (3, 4)
    with pytest.raises(ValueError, match="holds 6 tiles"):
        tile_grid(10, (2, 3))
    with pytest.raises(ValueError, match="positive int"):
        tile_grid(0)
    with pytest.raises(TypeError, match="positive int"):
        tile_grid(2.5)
    with pytest.raises(TypeError, match="rows, cols"):
        tile_grid(4, 2)


def test_imtile_known_layout() -> None:
    imgs = np.arange(1, 4, dtype=np.float64)[:, None, None] * np.ones((3, 2, 2))
    out = imtile(imgs, padding=1, pad_value=0.0)
    assert out.dtype == np.float32 and out.shape == (7, 7)  # 2x2 grid, one empty cell
    expected = np.zeros((7, 7))
    expected[1:3, 1:3] = 1
    expected[1:3, 4:6] = 2
    expected[4:6, 1:3] = 3
    np.testing.assert_array_equal(out, expected)


def test_imtile_rgb_uint8_and_pad_value() -> None:
    imgs = np.zeros((2, 3, 3, 3), np.uint8)
    out = imtile(imgs, padding=2)
    assert out.dtype == np.uint8 and out.shape == (7, 12, 3)
    assert (out[0] == 255).all() and (out[2:5, 2:5] == 0).all()
    out2 = imtile(imgs.astype(np.float32), pad_value=(1.0, 0.0, 0.0), grid=(2, 1))
    assert out2.shape == (9, 5, 3)
    np.testing.assert_array_equal(out2[0, 0], [1.0, 0.0, 0.0])
    half = imtile(imgs, pad_value=0.5)
    assert (half[0, 0] == 128).all()
    gray = imtile(np.ones((3, 2, 2), bool), pad_value=0.0)  # bool tiles: float 0/1
    assert gray.dtype == np.float32 and gray.max() == 1.0


def test_imtile_errors() -> None:
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        imtile(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="padding"):
        imtile(np.zeros((1, 2, 2)), padding=-1)
    with pytest.raises(ValueError):
        imtile(np.zeros((5, 2, 2)), grid=(2, 2))
    with pytest.raises(ValueError, match="empty"):
        imtile(np.zeros((0, 2, 2)))
    with pytest.raises(ValueError, match="pad_value"):
        imtile(np.zeros((2, 2, 2)), pad_value=(1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="scaled by 255"):
        imtile(np.zeros((2, 2, 2), np.uint8), pad_value=2.0)


@FAST
@given(
    n=st.integers(1, 30),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    padding=st.integers(0, 3),
    fix=st.sampled_from(["none", "rows", "cols"]),
    rgb=st.booleans(),
)
def test_imtile_shape_formula_and_no_mutation(
    n: int, h: int, w: int, padding: int, fix: str, rgb: bool
) -> None:
    grid = {"none": None, "rows": (n, None), "cols": (None, 2)}[fix]
    shape = (n, h, w, 3) if rgb else (n, h, w)
    imgs = np.random.default_rng(n).random(shape, dtype=np.float32)
    imgs.flags.writeable = False
    before = frozen_copy(imgs)
    rows, cols = tile_grid(n, grid)
    # the grid is the one asked for, and no larger than needed
    expected = {
        "none": (math.ceil(n / math.ceil(math.sqrt(n))), math.ceil(math.sqrt(n))),
        "rows": (n, 1),
        "cols": (math.ceil(n / 2), 2),
    }[fix]
    assert (rows, cols) == expected
    assert rows * cols >= n and (rows - 1) * cols < n
    out = imtile(imgs, grid=grid, padding=padding)
    assert out.shape[:2] == (rows * (h + padding) + padding, cols * (w + padding) + padding)
    assert out.shape[2:] == shape[3:]
    # every tile sits where tile_box says, and everything else is padding
    covered = np.zeros(out.shape[:2], bool)
    for i in range(n):
        x0, y0, x1, y1 = tile_box(i, (h, w), (rows, cols), padding)
        np.testing.assert_array_equal(out[y0:y1, x0:x1], imgs[i])
        covered[y0:y1, x0:x1] = True
    assert (out[~covered] == 1.0).all()
    assert unchanged(imgs, before)


def test_tile_box_matches_distinctive_channel() -> None:
    n, h, w = 7, 4, 5
    for i in range(n):
        imgs = np.zeros((n, h, w))
        imgs[i] = 9.0
        out = imtile(imgs, padding=1, pad_value=0.0)
        ys, xs = np.nonzero(out == 9.0)
        assert tile_box(i, (h, w), tile_grid(n), 1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    assert tile_box(5, (2, 3), (2, 4), padding=1) == (5, 4, 8, 6)
    with pytest.raises(IndexError, match="valid 0..7"):
        tile_box(8, (2, 3), (2, 4))
    with pytest.raises(TypeError, match="integer"):
        tile_box(1.0, (2, 3), (2, 4))
    with pytest.raises(ValueError, match="padding"):
        tile_box(1, (2, 3), (2, 4), padding=-1)


def test_grid_layout_sizes() -> None:
    lay = grid_layout(64, (113, 113))
    assert (lay.height, lay.width, lay.scale) == (913, 913, 1)
    lay2 = grid_layout(512, (14, 14))
    assert lay2.scale == 2 and (lay2.height, lay2.width) == (668, 668)
    tiny = grid_layout(64, (7, 7))
    assert 400 <= max(tiny.height, tiny.width) <= 1024 and tiny.scale == 7
    assert grid_layout(64, (7, 7), max_side=300).scale == 5  # 8 * (35 + 1) + 1 = 289 <= 300
    assert grid_layout(4, (600, 600)).scale == 1  # large grids are never shrunk
    with pytest.raises(ValueError, match="padding"):
        grid_layout(4, (3, 3), padding=-1)
    with pytest.raises(ValueError, match="tile_shape"):
        grid_layout(4, (0, 3))


@pytest.mark.parametrize("n, shape, padding", [(10, (14, 14), 1), (7, (3, 5), 0), (5, (30, 20), 3)])
def test_grid_layout_boxes_cover_each_tile_once(n: int, shape: tuple[int, int], padding: int) -> None:
    lay = grid_layout(n, shape, padding=padding)
    owner = np.full((lay.height, lay.width), -1)
    for i in range(lay.rows * lay.cols):
        x0, y0, x1, y1 = lay.box(i)
        assert (x1 - x0, y1 - y0) == (lay.tile_w, lay.tile_h)
        assert (owner[y0:y1, x0:x1] == -1).all()  # boxes never overlap
        owner[y0:y1, x0:x1] = i
    assert owner[-1, -1] == (-1 if padding else lay.rows * lay.cols - 1)  # the picture ends there
    assert (owner >= 0).sum() == lay.rows * lay.cols * lay.tile_h * lay.tile_w


@pytest.mark.parametrize("outside", [None, 0, 1, 2])
def test_outline_is_a_ring(outside: int | None) -> None:
    a = np.zeros((12, 14), np.uint8)
    box = (4, 3, 9, 8)
    outline(a, box, 7, width=2, outside=outside)
    o = 2 if outside is None else outside
    ring = np.zeros_like(a, bool)
    ring[3 - o : 8 + o, 4 - o : 9 + o] = True
    ring[3 - o + 2 : 8 + o - 2, 4 - o + 2 : 9 + o - 2] = False
    np.testing.assert_array_equal(a == 7, ring)


def test_outline_clips_at_the_edges_and_draws_rgb() -> None:
    a = np.zeros((6, 6, 3), np.uint8)
    outline(a, (0, 0, 3, 3), (255, 0, 0), width=2)  # top-left tile: the ring is cut off
    red = np.all(a == (255, 0, 0), axis=2)
    expected = np.zeros((6, 6), bool)
    expected[:5, 3:5] = True
    expected[3:5, :5] = True
    np.testing.assert_array_equal(red, expected)
    b = np.zeros((3, 3), np.uint8)
    outline(b, (1, 1, 2, 2), 1, width=2, outside=0)  # a ring wider than the box fills it only
    assert b.tolist() == [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
