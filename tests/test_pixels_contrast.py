"""Tests for actwidgets.pixels.contrast: hand-computed answers and never-mutated inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

from actwidgets.pixels.contrast import (
    contrast_limits,
    imadjust,
    mat2gray,
    normalize_channels,
    stretchlim,
    to_levels,
    to_uint8,
)

from _pixels_helpers import FAST, finite_floats, frozen_copy, unchanged

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
    with pytest.raises(ValueError, match="NaN or inf"):
        mat2gray(np.array([0.0, bad, 1.0]), limits=(0, 1))


def test_mat2gray_bad_limits_and_shape() -> None:
    with pytest.raises(ValueError, match="lo < hi"):
        mat2gray(np.arange(4.0), limits=(3, 3))
    with pytest.raises(TypeError, match="pair"):
        mat2gray(np.arange(4.0), limits=3)
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
    before = frozen_copy(a)
    for out in (mat2gray(a), mat2gray(a, per_channel=True)):
        assert out.shape == a.shape and out.dtype == np.float32
        assert np.all((out >= 0) & (out <= 1))
    assert unchanged(a, before)


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
    with pytest.raises(ValueError, match="non-empty"):
        stretchlim(np.zeros(0))


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
    np.testing.assert_array_equal(imadjust(np.array([1.0, 2.0, 3.0]), limits=(2, 2)), [0, 0, 1])
    with pytest.raises(ValueError, match="gamma"):
        imadjust(np.arange(3.0), gamma=0)
    with pytest.raises(ValueError, match="limits"):
        imadjust(np.arange(3.0), limits=(2, 1))


@FAST
@given(a=hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=8), elements=finite_floats))
def test_imadjust_range_and_no_mutation(a: np.ndarray) -> None:
    before = frozen_copy(a)
    out = imadjust(a)
    assert out.shape == a.shape and np.all((out >= 0) & (out <= 1))
    lo, hi = stretchlim(a)
    assert lo <= hi
    assert unchanged(a, before)


def test_to_uint8_and_levels() -> None:
    np.testing.assert_array_equal(
        to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan])), [0, 0, 128, 255, 255, 0]
    )
    with pytest.raises(TypeError, match="uint8 already"):
        to_uint8(np.zeros(3, np.uint8))
    np.testing.assert_array_equal(to_levels(np.array([0.0, 0.5, 1.0]), 254), [0, 127, 253])
    np.testing.assert_array_equal(to_levels(np.array([True, False]), 2), [1, 0])
    with pytest.raises(ValueError, match="levels"):
        to_levels(np.zeros(2), 257)


# --------------------------------------------------------------------------- the widgets' scaling


def test_normalize_channels_minmax_is_mat2gray() -> None:
    acts = np.random.default_rng(1).normal(size=(5, 6, 7)).astype(np.float32)
    acts[2] = 3.0
    np.testing.assert_allclose(normalize_channels(acts), mat2gray(acts, per_channel=True))
    np.testing.assert_allclose(normalize_channels(acts, per_channel=False), mat2gray(acts))
    assert (normalize_channels(acts)[2] == 0).all()
    one = normalize_channels(acts[0])  # one (H, W) map keeps its shape
    np.testing.assert_allclose(one, mat2gray(acts[0]))


def test_normalize_channels_stretch_is_imadjust_of_stretchlim() -> None:
    ch = np.tile(np.arange(100, dtype=np.float32), (10, 1))
    ch[0, 0] = 1e6  # one wild value
    acts = np.stack([ch, ch * 2])
    out = normalize_channels(acts, "stretch")
    assert out.shape == acts.shape and out.dtype == np.float32
    assert 0.4 < out[0, 5, 50] < 0.6  # the middle stays in the middle
    assert out[0, 0, 0] == 1.0
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)
    for c in range(2):  # one contrast implementation: the same as the MATLAB-style pair
        np.testing.assert_allclose(out[c], imadjust(acts[c], stretchlim(acts[c])), atol=1e-6)
    with pytest.raises(ValueError, match="contrast"):
        normalize_channels(acts, "fancy")


def test_contrast_limits_shapes_and_errors() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    lo, hi = contrast_limits(a, per_channel=True)
    assert lo.shape == hi.shape == (2, 1, 1)
    assert lo.ravel().tolist() == [0.0, 12.0] and hi.ravel().tolist() == [11.0, 23.0]
    lo, hi = contrast_limits(a)
    assert lo.shape == (1, 1, 1) and (lo.item(), hi.item()) == (0.0, 23.0)
    lo, hi = contrast_limits(np.arange(101.0), "stretch")
    assert (lo.item(), hi.item()) == pytest.approx((1.0, 99.0))
    with pytest.raises(ValueError, match="empty"):
        contrast_limits(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="NaN"):
        contrast_limits(np.array([1.0, np.nan]))
