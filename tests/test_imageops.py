"""Tests for actwidgets.imageops: hand-computed answers and never-mutated inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from actwidgets import imageops
from actwidgets.imageops import (
    ChannelRanking,
    apply_colormap,
    channel_stats,
    colormap_lut,
    imadjust,
    imtile,
    mat2gray,
    overlay,
    rank_channels,
    resize,
    stretchlim,
    strongest_channel,
    tile_box,
    tile_grid,
    to_uint8,
)

FAST = settings(max_examples=50, deadline=None)

finite_floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)
chw_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.uint8, np.int16]),
    shape=hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6),
    elements=st.integers(0, 200),
)


def _frozen_copy(a: np.ndarray) -> tuple[np.ndarray, bool]:
    return a.copy(), a.flags.writeable


def _unchanged(a: np.ndarray, before: tuple[np.ndarray, bool]) -> bool:
    copy, writeable = before
    return np.array_equal(a, copy, equal_nan=a.dtype.kind == "f") and a.flags.writeable == writeable


# --------------------------------------------------------------------------- mat2gray


def test_mat2gray_known_array() -> None:
    a = np.array([[2.0, 4.0], [6.0, 10.0]])
    out = mat2gray(a)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.25], [0.5, 1.0]])


def test_mat2gray_integer_input() -> None:
    out = mat2gray(np.array([0, 51, 255], dtype=np.uint8))
    np.testing.assert_allclose(out, [0.0, 0.2, 1.0], atol=1e-7)


def test_mat2gray_per_channel() -> None:
    a = np.stack([np.full((2, 2), 3.0), np.array([[0.0, 1.0], [2.0, 4.0]])])
    out = mat2gray(a, per_channel=True)
    np.testing.assert_array_equal(out[0], np.zeros((2, 2)))  # constant channel -> zeros
    np.testing.assert_allclose(out[1], [[0.0, 0.25], [0.5, 1.0]])
    # over the whole array instead: both channels share one scale
    np.testing.assert_allclose(mat2gray(a)[0], np.full((2, 2), 0.75))


def test_mat2gray_constant_gives_zeros_not_nan() -> None:
    out = mat2gray(np.full((3, 4), 7.5))
    assert not np.isnan(out).any()
    np.testing.assert_array_equal(out, 0.0)


def test_mat2gray_limits_clip_like_matlab() -> None:
    out = mat2gray(np.array([-5.0, 0.0, 5.0, 10.0, 20.0]), limits=(0, 10))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.5, 1.0, 1.0])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_mat2gray_rejects_nonfinite(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN or inf"):
        mat2gray(np.array([0.0, bad, 1.0]))
    with pytest.raises(ValueError, match="NaN or inf"):
        mat2gray(np.array([[[0.0, bad]], [[1.0, 2.0]]]), per_channel=True)


def test_mat2gray_bad_limits_and_shape() -> None:
    with pytest.raises(ValueError, match="lo < hi"):
        mat2gray(np.arange(4.0), limits=(3, 3))
    with pytest.raises(ValueError, match="per_channel"):
        mat2gray(np.arange(4.0), per_channel=True)
    with pytest.raises(TypeError):
        mat2gray(np.array([1 + 2j]))


def test_mat2gray_tiny_and_huge_ranges() -> None:
    tiny = np.array([0.0, 1e-45, 2e-45], dtype=np.float32)
    out = mat2gray(tiny)
    assert np.all(np.isfinite(out)) and out[0] == 0 and out[-1] == 1
    huge = np.array([-3e38, 0.0, 3e38], dtype=np.float32)
    np.testing.assert_allclose(mat2gray(huge), [0.0, 0.5, 1.0], atol=1e-6)


@FAST
@given(a=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=8), elements=finite_floats))
def test_mat2gray_range_and_no_mutation(a: np.ndarray) -> None:
    before = _frozen_copy(a)
    for out in (mat2gray(a), mat2gray(a, per_channel=True)):
        assert out.shape == a.shape and out.dtype == np.float32
        assert np.all((out >= 0) & (out <= 1))
    assert _unchanged(a, before)


# --------------------------------------------------------------------------- stretchlim / imadjust


def test_stretchlim_known_distribution() -> None:
    a = np.arange(101, dtype=np.float64)  # 0..100: quantile q is exactly 100 q
    assert stretchlim(a, tol=0.05) == pytest.approx((5.0, 95.0))
    assert stretchlim(a) == pytest.approx((1.0, 99.0))
    assert stretchlim(a, tol=(0.1, 0.8)) == pytest.approx((10.0, 80.0))
    assert stretchlim(a, tol=0) == (0.0, 100.0)


def test_stretchlim_falls_back_to_min_max() -> None:
    a = np.zeros(1000)
    a[-1] = 9.0  # the 1% and 99% quantiles are both 0
    assert stretchlim(a) == (0.0, 9.0)
    assert stretchlim(np.full(10, 4.0)) == (4.0, 4.0)


def test_stretchlim_bad_tol() -> None:
    with pytest.raises(ValueError, match="tol"):
        stretchlim(np.arange(5), tol=0.5)
    with pytest.raises(ValueError, match="tol"):
        stretchlim(np.arange(5), tol=(0.9, 0.1))


def test_imadjust_known_values() -> None:
    a = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(imadjust(a, limits=(1, 3)), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(imadjust(a, limits=(0, 4), out=(1.0, 0.0)), [1, 0.75, 0.5, 0.25, 0])
    np.testing.assert_allclose(imadjust(a, limits=(0, 4), gamma=2.0), [0, 0.0625, 0.25, 0.5625, 1])
    np.testing.assert_allclose(imadjust(a, limits=(0, 4), out=(0.2, 0.6)), [0.2, 0.3, 0.4, 0.5, 0.6])


def test_imadjust_default_limits_use_stretchlim() -> None:
    a = np.arange(101, dtype=np.float64)
    out = imadjust(a)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[[0, 1, 50, 99, 100]], [0, 0, 49 / 98, 1, 1], atol=1e-6)


def test_imadjust_constant_and_errors() -> None:
    np.testing.assert_array_equal(imadjust(np.full((2, 2), 3.0)), 0.0)
    with pytest.raises(ValueError, match="gamma"):
        imadjust(np.arange(3.0), gamma=0)
    with pytest.raises(ValueError, match="limits"):
        imadjust(np.arange(3.0), limits=(2, 1))


@FAST
@given(a=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=8), elements=finite_floats))
def test_imadjust_range_and_no_mutation(a: np.ndarray) -> None:
    before = _frozen_copy(a)
    out = imadjust(a)
    assert out.shape == a.shape and np.all((out >= 0) & (out <= 1))
    lo, hi = stretchlim(a)
    assert lo <= hi
    assert _unchanged(a, before)


def test_to_uint8() -> None:
    np.testing.assert_array_equal(
        to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])), [0, 0, 128, 255, 255, 0]
    )
    with pytest.raises(TypeError):
        to_uint8(np.zeros(3, np.uint8))


# --------------------------------------------------------------------------- tiling


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
    with pytest.raises(ValueError, match="holds 6 tiles"):
        tile_grid(10, (2, 3))
    with pytest.raises(ValueError):
        tile_grid(0)


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


def test_imtile_errors() -> None:
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        imtile(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="padding"):
        imtile(np.zeros((1, 2, 2)), padding=-1)
    with pytest.raises(ValueError):
        imtile(np.zeros((5, 2, 2)), grid=(2, 2))


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
    before = _frozen_copy(imgs)
    rows, cols = tile_grid(n, grid)
    out = imtile(imgs, grid=grid, padding=padding)
    assert out.shape[:2] == (rows * (h + padding) + padding, cols * (w + padding) + padding)
    assert out.shape[2:] == shape[3:]
    assert rows * cols >= n and (rows - 1) * cols < n or grid is not None
    # every tile sits where tile_box says
    for i in range(n):
        x0, y0, x1, y1 = tile_box(i, (h, w), (rows, cols), padding)
        np.testing.assert_array_equal(out[y0:y1, x0:x1], imgs[i])
    assert _unchanged(imgs, before)


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


# --------------------------------------------------------------------------- resize / colour


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


def test_resize_does_not_share_memory() -> None:
    a = np.ones((3, 3), np.float32)
    out = resize(a, (3, 3))
    out[0, 0] = 5
    assert a[0, 0] == 1


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
    with pytest.raises(ValueError, match="viridis"):
        colormap_lut("viridiss")


def test_overlay() -> None:
    img = np.full((10, 12, 3), 100, np.uint8)
    before = _frozen_copy(img)
    ch = np.array([[0.0, 1.0], [1.0, 0.0]])
    out = overlay(img, ch, cmap="gray", alpha=1.0)
    assert out.shape == (10, 12, 3) and out.dtype == np.uint8
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 255  # corners of the upscaled map
    np.testing.assert_array_equal(overlay(img, ch, alpha=0.0), img)
    half = overlay(img, np.zeros((2, 2)), cmap="gray", alpha=0.5)  # constant -> 0 -> black
    np.testing.assert_array_equal(half, 50)
    assert _unchanged(img, before)
    with pytest.raises(ValueError, match="alpha"):
        overlay(img, ch, alpha=1.5)
    with pytest.raises(ValueError, match="channel"):
        overlay(img, np.zeros((2, 2, 2)))


# --------------------------------------------------------------------------- statistics


def test_strongest_channel_and_stats() -> None:
    acts = np.zeros((4, 3, 3), np.float32)
    acts[2, 1, 1] = 5.0
    acts[1] = 1.0
    acts[3, 0, 0] = -2.0
    assert strongest_channel(acts) == 2
    stats = channel_stats(acts)
    assert set(stats) == {"max", "min", "mean", "frac_zero"}
    np.testing.assert_allclose(stats["max"], [0, 1, 5, 0])
    np.testing.assert_allclose(stats["min"], [0, 1, 0, -2])
    np.testing.assert_allclose(stats["mean"], [0, 1, 5 / 9, -2 / 9])
    np.testing.assert_allclose(stats["frac_zero"], [1, 0, 8 / 9, 8 / 9])
    with pytest.raises(ValueError, match=r"acts\[0\]"):
        strongest_channel(acts[None])


# --------------------------------------------------------------------------- ranking


def _planted(seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Activations (16, 14, 14) where channel 11 is 1 inside a box and noise elsewhere."""
    rng = np.random.default_rng(seed)
    acts = rng.random((16, 14, 14)).astype(np.float32) * 3.0
    acts[11] = rng.random((14, 14)) * 0.2
    acts[11, 4:8, 6:10] = 1.0
    return acts, (6 * 16, 4 * 16, 10 * 16, 8 * 16)  # the box in a 224 x 224 image


def test_rank_channels_planted_with_box_and_mask() -> None:
    acts, box = _planted()
    before = _frozen_copy(acts)
    r1 = rank_channels(acts, box, image_size=(224, 224))
    assert isinstance(r1, ChannelRanking)
    assert r1.order[0] == 11 and r1.order.shape == (16,) and r1.scores.shape == (16,)
    assert sorted(r1.order.tolist()) == list(range(16))
    mask = np.zeros((224, 224), bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    r2 = rank_channels(acts, mask, top=3)
    assert r2.order.shape == (3,) and r2.order[0] == 11
    np.testing.assert_allclose(r1.scores, r2.scores, atol=1e-12)
    assert np.all(np.diff(r1.scores[r1.order]) <= 0)
    assert _unchanged(acts, before)


def test_rank_channels_scores_by_hand() -> None:
    acts = np.zeros((3, 2, 2))
    acts[0] = [[4.0, 0.0], [0.0, 0.0]]  # all inside: scaled 1 in, 0 out -> 1
    acts[1] = [[0.0, 2.0], [2.0, 2.0]]  # scaled: 0 in, 1 out -> -1
    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True  # exactly the top-left activation cell
    r = rank_channels(acts, mask)
    np.testing.assert_allclose(r.scores, [1.0, -1.0, 0.0])
    assert r.order.tolist() == [0, 2, 1]


def test_rank_channels_area_fractions() -> None:
    # box covering half of the top-left cell: weight 0.5 there, 0 elsewhere
    acts = np.zeros((2, 2, 2))
    acts[0, 0, 0] = 1.0
    r = rank_channels(acts, (0, 0, 5, 10), image_size=(20, 20))
    np.testing.assert_allclose(r.scores[0], 1.0 - 0.5 / 3.5)


def test_rank_channels_errors() -> None:
    acts = np.ones((2, 4, 4))
    with pytest.raises(ValueError, match="empty"):
        rank_channels(acts, np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="whole image"):
        rank_channels(acts, np.ones((8, 8), bool))
    with pytest.raises(ValueError, match="whole image"):
        rank_channels(acts, (0, 0, 8, 8), image_size=(8, 8))
    with pytest.raises(ValueError, match="image_size"):
        rank_channels(acts, (0, 0, 4, 4))
    with pytest.raises(ValueError, match="covers nothing"):
        rank_channels(acts, (10, 10, 12, 12), image_size=(8, 8))
    with pytest.raises(ValueError, match="2-D"):
        rank_channels(acts, np.zeros((2, 8, 8), bool))
    with pytest.raises(ValueError, match="does not match"):
        rank_channels(acts, np.ones((8, 8), bool), image_size=(9, 9))
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        rank_channels(np.ones((4, 4)), np.ones((8, 8), bool))


@FAST
@given(acts=chw_arrays, data=st.data())
def test_rank_channels_properties_and_no_mutation(acts: np.ndarray, data: st.DataObject) -> None:
    c, h, w = acts.shape
    big = (h * 3, w * 3)
    y0 = data.draw(st.integers(0, big[0] - 1))
    x0 = data.draw(st.integers(0, big[1] - 1))
    y1 = data.draw(st.integers(y0 + 1, big[0]))
    x1 = data.draw(st.integers(x0 + 1, big[1]))
    before = _frozen_copy(acts)
    full = (y1 - y0) * (x1 - x0) == big[0] * big[1]
    if full:
        with pytest.raises(ValueError):
            rank_channels(acts, (x0, y0, x1, y1), image_size=big)
        return
    r = rank_channels(acts, (x0, y0, x1, y1), image_size=big)
    assert sorted(r.order.tolist()) == list(range(c))
    assert np.all(np.abs(r.scores) <= 2 + 1e-9) and np.all(np.isfinite(r.scores))
    zero = np.all(acts.reshape(c, -1) == 0, axis=1)
    assert np.all(r.scores[zero] == 0)
    assert _unchanged(acts, before)


@FAST
@given(acts=chw_arrays)
def test_stats_functions_do_not_mutate(acts: np.ndarray) -> None:
    before = _frozen_copy(acts)
    stats = channel_stats(acts)
    assert all(v.shape == (acts.shape[0],) for v in stats.values())
    k = strongest_channel(acts)
    assert stats["max"][k] == stats["max"].max()
    out = mat2gray(acts, per_channel=True)
    assert not math.isnan(float(out.sum()))
    assert _unchanged(acts, before)


def test_all_exports_exist() -> None:
    for name in imageops.__all__:
        assert hasattr(imageops, name), name
