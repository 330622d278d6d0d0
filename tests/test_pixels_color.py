"""Tests for actwidgets.pixels.color and .resize: colormaps, diverging maps, palette pictures,
resizing and integer enlargement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actwidgets.pixels.color import Indexed, apply_colormap, colormap_lut, diverging, palette
from actwidgets.pixels.resize import enlarge, enlarge_to, resize

from _pixels_helpers import FAST

# --------------------------------------------------------------------------- colour


def test_colormap_lut_and_apply() -> None:
    gray = colormap_lut("gray")
    assert gray.shape == (256, 3) and gray.dtype == np.uint8
    np.testing.assert_array_equal(gray[:, 0], np.arange(256))
    assert colormap_lut("viridis") is colormap_lut("viridis")  # cached
    assert not colormap_lut("viridis").flags.writeable
    for name in ("jet", "inferno", "magma", "RdBu_r"):
        assert colormap_lut(name).shape == (256, 3)
    out = apply_colormap(np.array([[0.0, 0.5, 1.0, 7.0, -3.0]]), "gray")
    np.testing.assert_array_equal(out[0, :, 0], [0, 128, 255, 255, 0])
    np.testing.assert_array_equal(apply_colormap(np.array([1.0]), "viridis")[0], colormap_lut("viridis")[255])
    table = np.zeros((256, 3), np.uint8)
    table[255] = 9
    assert colormap_lut(table) is table and apply_colormap(np.ones(2), table)[0].tolist() == [9, 9, 9]
    with pytest.raises(ValueError, match="viridis"):
        colormap_lut("viridiss")
    with pytest.raises(TypeError, match="string"):
        colormap_lut(3)
    with pytest.raises(ValueError, match="256, 3"):
        colormap_lut(np.zeros((10, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        apply_colormap(np.zeros(3, np.uint8))


def test_palette() -> None:
    pal = palette("gray", 254, [(255, 255, 255), (255, 64, 0)])
    assert pal.shape == (256, 3) and pal.dtype == np.uint8
    assert pal[0].tolist() == [0, 0, 0] and pal[253].tolist() == [255, 255, 255]
    assert pal[254].tolist() == [255, 255, 255] and pal[255].tolist() == [255, 64, 0]
    assert palette("viridis", 256).tolist() == colormap_lut("viridis").tolist()


def test_diverging() -> None:
    d = diverging(np.array([[-2.0, 0.0, 1.0, 2.0]]), "gray")
    np.testing.assert_array_equal(d[0, :, 0], [0, 128, 191, 255])
    z = diverging(np.zeros((3, 3)))
    assert (z == colormap_lut("RdBu_r")[128]).all()
    v = diverging(np.array([[-1.0, 1.0]]), "gray", vmax=4.0)
    np.testing.assert_array_equal(v[0, :, 0], [96, 159])
    with pytest.raises(ValueError, match="NaN"):
        diverging(np.array([[np.inf]]))
    with pytest.raises(ValueError, match="positive"):
        diverging(np.ones((2, 2)), vmax=-1.0)
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        diverging(np.ones(3))


def test_indexed_picture() -> None:
    index = np.array([[0, 1], [1, 2]], np.uint8)
    pal = np.array([[0, 0, 0], [10, 20, 30], [255, 255, 255]], np.uint8)
    pic = Indexed(index, pal)
    assert pic.shape == (2, 2, 3) and "2x2" in repr(pic)
    rgb = np.asarray(pic)
    assert rgb.dtype == np.uint8 and rgb[1, 0].tolist() == [10, 20, 30]
    assert np.asarray(pic, dtype=np.float32).dtype == np.float32
    rgb[:] = 0  # a new array: the picture is untouched
    assert pic.rgb()[1, 1].tolist() == [255, 255, 255]
    assert not pic.index.flags.writeable and not pic.palette.flags.writeable
    assert index.flags.writeable  # the caller's array is not frozen
    with pytest.raises(AttributeError, match="read-only"):
        pic.index = index
    with pytest.raises(ValueError, match="index"):
        Indexed(index.astype(np.int64), pal)
    with pytest.raises(ValueError, match="palette"):
        Indexed(index, np.zeros((300, 3), np.uint8))


# --------------------------------------------------------------------------- resizing


def test_resize_methods() -> None:
    a = np.array([[0.0, 1.0], [2.0, 3.0]])
    near = resize(a, (4, 4), method="nearest")
    assert near.dtype == np.float32 and near.shape == (4, 4)
    np.testing.assert_array_equal(near[:2, :2], 0.0)
    np.testing.assert_array_equal(near[2:, 2:], 3.0)
    bil = resize(a, (4, 6))
    assert bil.shape == (4, 6) and bil.min() >= 0 and bil.max() <= 3
    assert 0 < bil[1, 1] < 3  # bilinear mixes neighbours
    np.testing.assert_allclose(resize(np.full((5, 5), 2.5), (3, 7), method="bicubic"), 2.5, rtol=1e-6)
    same = resize(a.astype(np.float32), (2, 2))
    np.testing.assert_array_equal(same, a)
    with pytest.raises(ValueError, match="method"):
        resize(a, (3, 3), method="lanczos9")
    with pytest.raises(ValueError):
        resize(np.zeros((2, 2, 2)), (3, 3))
    with pytest.raises(ValueError, match="positive"):
        resize(a, (0, 3))


def test_resize_does_not_share_memory() -> None:
    a = np.ones((3, 3), np.float32)
    for size in ((3, 3), (5, 5)):
        out = resize(a, size)
        out[0, 0] = 5
        assert a[0, 0] == 1


@FAST
@given(h=st.integers(1, 6), w=st.integers(1, 6), k=st.integers(1, 4), rgb=st.booleans(), stack=st.booleans())
def test_enlarge_is_pixel_repetition(h: int, w: int, k: int, rgb: bool, stack: bool) -> None:
    shape = (3,) * stack + (h, w) + (3,) * rgb
    a = np.random.default_rng(h * 7 + w).integers(0, 255, shape, dtype=np.uint8)
    axis = int(stack)
    out = enlarge(a, k, axis=axis)
    expected = np.repeat(np.repeat(a, k, axis=axis), k, axis=axis + 1)
    np.testing.assert_array_equal(out, expected)
    assert out.flags.c_contiguous and out.flags.writeable and not np.shares_memory(out, a)


def test_enlarge_indexed_and_errors() -> None:
    pic = Indexed(np.eye(2, dtype=np.uint8), np.array([[0, 0, 0], [255, 0, 0]], np.uint8))
    big = enlarge(pic, 3)
    assert isinstance(big, Indexed) and big.shape == (6, 6, 3)
    np.testing.assert_array_equal(np.asarray(big), enlarge(np.asarray(pic), 3))
    with pytest.raises(ValueError, match="axis"):
        enlarge(np.zeros((2, 2)), 2, axis=1)
    with pytest.raises(ValueError, match="factor"):
        enlarge(np.zeros((2, 2)), 0)


def test_enlarge_to() -> None:
    small = np.zeros((10, 30, 3), np.uint8)
    assert enlarge_to(small, 200).shape == (200, 600, 3)  # shorter side to 200
    assert enlarge_to(small, 200, max_side=400).shape == (130, 390, 3)  # longer side capped
    big = np.zeros((300, 300), np.uint8)
    assert enlarge_to(big, 200) is big
    assert enlarge_to(np.zeros((10, 3000)), 200).shape == (10, 3000)  # cannot grow at all
