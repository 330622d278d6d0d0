"""Tests for actwidgets.pixels.views and .png: grids, outlines, channels, overlays, PNG bytes."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from actwidgets.pixels.color import Indexed, colormap_lut
from actwidgets.pixels.png import to_pil, to_png, zlib_strategy
from actwidgets.pixels.tiles import grid_layout
from actwidgets.pixels.views import overlay, render_channel, render_grid

from _pixels_helpers import FAST, decode, frozen_copy, unchanged

ORANGE = (255, 64, 0)


def _acts(c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((c, h, w), dtype=np.float32)


# --------------------------------------------------------------------------- PNG


@FAST
@given(
    img=hnp.arrays(
        np.uint8,
        st.one_of(
            hnp.array_shapes(min_dims=2, max_dims=2, max_side=40),
            st.tuples(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4])),
        ),
    )
)
def test_to_png_round_trip(img: np.ndarray) -> None:
    before = img.copy()
    png = to_png(img)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as im:
        np.testing.assert_array_equal(np.asarray(im), img[:, :, 0] if img.shape[2:] == (1,) else img)
    np.testing.assert_array_equal(img, before)


def test_to_png_large_and_strided_images() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (600, 700, 3), dtype=np.uint8)
    img[100:300] = 17
    np.testing.assert_array_equal(decode(to_png(img)), img)
    strided = img[::2, ::3]  # non-contiguous input
    np.testing.assert_array_equal(decode(to_png(strided)), strided)


def test_to_png_writes_palette_pictures_in_palette_mode() -> None:
    pic = render_grid(_acts(20, 14, 14), selected=3, cmap="magma")
    png = to_png(pic)
    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "P"
        np.testing.assert_array_equal(np.asarray(im), pic.index)
    np.testing.assert_array_equal(decode(png), np.asarray(pic))
    rgb = np.asarray(pic)
    assert len(png) < len(to_png(rgb))  # a third of the bytes to compress
    assert to_pil(pic).mode == "P" and to_pil(rgb).mode == "RGB"
    big = render_grid(_acts(64, 113, 113))  # tiles not enlarged: run-length matching only
    assert zlib_strategy(big) == zlib.Z_RLE and zlib_strategy(pic) == zlib.Z_DEFAULT_STRATEGY
    np.testing.assert_array_equal(decode(to_png(big)), np.asarray(big))


def test_to_png_errors() -> None:
    with pytest.raises(TypeError, match="to_uint8"):
        to_png(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError):
        to_png(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError):
        to_png(np.zeros((2, 2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        to_png(np.zeros((0, 2), np.uint8))


# --------------------------------------------------------------------------- render_grid


def test_render_grid_shape_and_layout() -> None:
    g = render_grid(_acts(64, 113, 113))
    assert isinstance(g, Indexed) and g.shape == (913, 913, 3)
    small = render_grid(_acts(512, 14, 14))
    lay = grid_layout(512, (14, 14))
    assert small.shape == (lay.height, lay.width, 3) == (668, 668, 3)
    one = grid_layout(1, (5, 6))  # one (h, w) map is a grid of one tile
    assert render_grid(_acts(1, 5, 6)[0]).shape == (one.height, one.width, 3)


def test_render_grid_tiles_are_normalised_channels() -> None:
    acts = np.zeros((3, 2, 2), np.float32)
    acts[0] = [[0, 1], [2, 3]]
    acts[1] = 5.0  # constant -> lowest colour
    acts[2] = [[10, 0], [0, 0]]
    g = np.asarray(render_grid(acts, cmap="gray", max_side=4))  # no enlargement
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
    g = np.asarray(render_grid(acts, selected=sel, padding=padding, cmap="gray"))
    lay = grid_layout(shape[0], shape[1:], padding=padding)
    is_orange = np.all(g == ORANGE, axis=2)
    x0, y0, x1, y1 = lay.box(sel)
    o = min(padding, 2)
    ring = np.zeros_like(is_orange)
    ring[y0 - o : y1 + o, x0 - o : x1 + o] = True
    ring[y0 - o + 2 : y1 + o - 2, x0 - o + 2 : x1 + o - 2] = False
    np.testing.assert_array_equal(is_orange, ring)  # exactly a 2 px ring, nowhere else
    plain = np.asarray(render_grid(acts, padding=padding, cmap="gray"))
    assert not np.all(plain == ORANGE, axis=2).any()
    inside = (slice(y0 - o + 2, y1 + o - 2), slice(x0 - o + 2, x1 + o - 2))
    np.testing.assert_array_equal(g[inside], plain[inside])  # content untouched


def test_render_grid_custom_outline_and_cmap() -> None:
    acts = _acts(4, 9, 9)
    g = np.asarray(render_grid(acts, selected=-4, outline=(0, 255, 0), cmap="viridis"))
    assert np.all(g == (0, 255, 0), axis=2).any()
    lut = colormap_lut("viridis")
    x0, y0, x1, y1 = grid_layout(4, (9, 9)).box(3)
    tile = g[y0:y1, x0:x1].reshape(-1, 3)
    # every pixel of a tile is a colour of the viridis table
    codes = lut.astype(np.int64) @ [65536, 256, 1]
    assert np.isin(tile.astype(np.int64) @ [65536, 256, 1], codes).all()
    with pytest.raises(ValueError, match="outline"):
        render_grid(acts, outline=(0, 300, 0))


def test_render_grid_png_matches_pixels_and_is_readonly() -> None:
    g = render_grid(_acts(20, 14, 14), selected=3, cmap="magma")
    assert not g.index.flags.writeable
    rgb = np.asarray(g)
    np.testing.assert_array_equal(decode(to_png(g)), rgb)
    view = rgb[5:50, 3:40]
    np.testing.assert_array_equal(decode(to_png(view)), view)
    rgb[:10] = 0  # the RGB pixels are a new array, free to draw on
    np.testing.assert_array_equal(decode(to_png(rgb)), rgb)


def test_render_grid_errors_and_no_mutation() -> None:
    acts = _acts(6, 5, 5)
    before = frozen_copy(acts)
    render_grid(acts, selected=2, contrast="stretch")
    assert unchanged(acts, before)
    with pytest.raises(IndexError, match="valid 0..5"):
        render_grid(acts, selected=6)
    with pytest.raises(TypeError, match="selected"):
        render_grid(acts, selected=True)
    with pytest.raises(ValueError, match="contrast"):
        render_grid(acts, contrast="nope")
    with pytest.raises(ValueError, match=r"acts\[0\]"):
        render_grid(acts[None])
    with pytest.raises(ValueError, match="padding"):
        render_grid(acts, padding=-1)
    bad = acts.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        render_grid(bad)


# --------------------------------------------------------------------------- channel views


def test_render_channel() -> None:
    ch = np.array([[0.0, 1.0], [2.0, 4.0]], dtype=np.float32)
    out = np.asarray(render_channel(ch, cmap="gray"))
    np.testing.assert_array_equal(out[:, :, 0], [[0, 64], [128, 255]])
    big = render_channel(ch, size=(227, 227))
    assert big.shape == (227, 227, 3)
    assert len(np.unique(big.index)) > 20  # bilinear, not blocky nearest
    fixed = np.asarray(render_channel(ch, cmap="gray", limits=(0, 8)))
    np.testing.assert_array_equal(fixed[:, :, 0], [[0, 32], [64, 128]])
    np.testing.assert_array_equal(decode(to_png(big)), np.asarray(big))
    same = render_channel(ch[None], cmap="gray")  # (1, h, w) is one channel too
    np.testing.assert_array_equal(same.index, render_channel(ch, cmap="gray").index)
    with pytest.raises(ValueError, match=r"acts\[c\]"):
        render_channel(np.zeros((2, 3, 3)))


def test_overlay() -> None:
    img = np.full((10, 12, 3), 100, np.uint8)
    before = frozen_copy(img)
    ch = np.array([[0.0, 1.0], [1.0, 0.0]])
    out = overlay(img, ch, cmap="gray", alpha=1.0)
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255  # corners of the upscaled map
    np.testing.assert_array_equal(overlay(img, ch, alpha=0.0), img)
    half = overlay(img, np.zeros((2, 2)), cmap="gray", alpha=0.5)  # constant -> 0 -> black
    np.testing.assert_array_equal(half, 50)
    raw = overlay(img, np.full((2, 2), 2.0), cmap="gray", alpha=1.0, normalize=False)  # clipped
    np.testing.assert_array_equal(raw, 255)
    assert unchanged(img, before)
    assert overlay(img.astype(np.float32) / 255, ch).shape == (10, 12, 3)  # any image load_image reads
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, ch, alpha=1.5)
    with pytest.raises(ValueError, match="channel"):
        overlay(img, np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        overlay(img, np.full((2, 2), np.nan), normalize=False)
