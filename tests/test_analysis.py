"""Tests for actwidgets.analysis: statistics, channel ranking by region, freqz2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actwidgets.analysis import (
    ChannelRanking,
    channel_stats,
    freqz2,
    rank_channels,
    robust_scale,
    strongest_channel,
)
from actwidgets.pixels.contrast import mat2gray

from _pixels_helpers import FAST, chw_arrays, frozen_copy, unchanged

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
    acts[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        strongest_channel(acts)


@FAST
@given(acts=chw_arrays)
def test_stats_functions_do_not_mutate(acts: np.ndarray) -> None:
    before = frozen_copy(acts)
    stats = channel_stats(acts)
    assert all(v.shape == (acts.shape[0],) for v in stats.values())
    k = strongest_channel(acts)
    assert stats["max"][k] == stats["max"].max()
    out = mat2gray(acts, per_channel=True)
    assert not math.isnan(float(out.sum()))
    assert unchanged(acts, before)


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
    before = frozen_copy(acts)
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
    assert unchanged(acts, before)


def test_rank_channels_scores_by_hand() -> None:
    acts = np.zeros((3, 2, 2))
    acts[0] = [[4.0, 0.0], [0.0, 0.0]]  # one non-zero cell: its scale is 4; 1 in, 0 out -> 1
    acts[1] = [[0.0, 2.0], [2.0, 2.0]]  # scale 2: 0 in, 1 out -> -1
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


def test_robust_scale() -> None:
    acts = np.zeros((3, 10, 20))  # 200 cells: the 2 largest |values| are passed over
    acts[0] = 1.0
    acts[0, 0, 0] = 1000.0  # one outlier cannot set the scale
    acts[1, 0, :3] = [-7.0, 5.0, 3.0]
    acts[2, 0, 0] = 4.0  # a single non-zero cell: its own value
    np.testing.assert_allclose(robust_scale(acts), [1.0, 3.0, 4.0])
    big = np.arange(1.0, 1001.0).reshape(1, 10, 100)  # 1000 cells: 10 passed over
    assert robust_scale(big)[0] == 990.0


def test_rank_channels_one_bright_cell_cannot_sink_a_channel() -> None:
    """A channel that fires all over the region stays first when one cell far from the region
    is very bright; dividing by the peak |value| (the old score) sank it below a channel that
    fires only weakly there."""
    acts = np.zeros((3, 14, 14))
    acts[0, 4:8, 4:8] = 1.0  # fires all over the region ...
    acts[0, 13, 0] = 50.0  # ... and one bright cell in the far corner
    acts[1, 4:8, 4:8] = 0.3  # fires weakly over half of the region's cells only
    acts[1, 4:8, 4:6] = 0.0
    acts[2] = np.random.default_rng(0).random((14, 14))  # everywhere, no preference
    mask = np.zeros((14, 14), bool)
    mask[4:8, 4:8] = True
    r = rank_channels(acts, mask)
    assert r.order.tolist() == [0, 1, 2]
    outside = mask.size - mask.sum()
    assert r.scores[0] == pytest.approx(1.0 - 1.0 / outside)  # the bright cell counts as 1
    flat = acts.reshape(3, -1)  # the old score, for contrast
    old = (flat[:, mask.ravel()].mean(1) - flat[:, ~mask.ravel()].mean(1)) / np.abs(flat).max(1)
    assert old[0] < old[1]


@FAST
@given(
    value=st.floats(-1e9, 1e9, allow_nan=False),
    y=st.integers(0, 13),
    x=st.integers(0, 13),
    seed=st.integers(0, 5),
)
def test_rank_channels_one_cell_outside_moves_a_score_little(value: float, y: int, x: int, seed: int) -> None:
    """Whatever one cell outside the region holds, a channel that fires evenly over the region
    keeps its score within 2 / (cells outside), and one that fires unevenly stays first."""
    mask = np.zeros((14, 14), bool)
    mask[3:9, 5:10] = True
    if mask[y, x]:
        return
    rng = np.random.default_rng(seed)
    acts = rng.random((3, 14, 14)) * 0.1
    acts[0][mask] = 1.0
    acts[1][mask] = 0.5 + rng.random(mask.sum())
    base = rank_channels(acts, mask).scores
    acts[:2, y, x] = value
    moved = rank_channels(acts, mask)
    outside = mask.size - mask.sum()
    assert abs(moved.scores[0] - base[0]) <= 2.0 / outside + 1e-12
    assert moved.order[-1] == 2 and moved.scores[1] > 0.5


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
    with pytest.raises(ValueError, match="positive"):
        rank_channels(acts, (0, 0, 4, 4), image_size=(8, 8), top=0)
    with pytest.raises(TypeError, match="mask"):
        rank_channels(acts, np.array([["a"]]))
    with pytest.raises(ValueError, match="NaN"):
        rank_channels(np.full((1, 4, 4), np.inf), (0, 0, 4, 4), image_size=(8, 8))


@FAST
@given(acts=chw_arrays, data=st.data())
def test_rank_channels_properties_and_no_mutation(acts: np.ndarray, data: st.DataObject) -> None:
    c, h, w = acts.shape
    big = (h * 3, w * 3)
    y0 = data.draw(st.integers(0, big[0] - 1))
    x0 = data.draw(st.integers(0, big[1] - 1))
    y1 = data.draw(st.integers(y0 + 1, big[0]))
    x1 = data.draw(st.integers(x0 + 1, big[1]))
    before = frozen_copy(acts)
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
    assert unchanged(acts, before)


# --------------------------------------------------------------------------- freqz2


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
    row, _, _ = freqz2(np.array([1.0, -1.0]), n=8)  # a 1-D kernel is one row
    assert row.shape == (8, 8)
    with pytest.raises(ValueError, match="n must be"):
        freqz2(np.ones((5, 5)), n=4)
    with pytest.raises(ValueError, match="2-D"):
        freqz2(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        freqz2(np.array([[np.nan, 1.0]]))
