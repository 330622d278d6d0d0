"""A layer's concepts: a hand-made mix recovered, scikit-learn's objective, NNLS, seeds, Ctrl-C."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import nnls
from sklearn.decomposition import NMF
from torch import nn

import actwidgets as aw
from actwidgets.concepts import NegativeValuesError, factor
from actwidgets.concepts.pictures import concept_colors, concept_picture
from actwidgets.featurevis import objectives

#: Channels made of two parts, the pictures' red and green: R, R + G, G, 2R.
MIX = np.array([[1.0, 0, 0], [1, 1, 0], [0, 1, 0], [2, 0, 0]], np.float32)
PARTS = np.array([[1.0, 1, 0, 2], [0, 1, 1, 0]])     # the loadings to recover (up to order, scale)


def mixing_net(input_size: int = 8) -> aw.Network:
    conv, signed = nn.Conv2d(3, 4, 1, bias=False), nn.Conv2d(4, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(MIX).view(4, 3, 1, 1))
        signed.weight.copy_(torch.tensor([[1.0, -1, 0, 0], [-1, 0, 1, 0]]).view(2, 4, 1, 1))
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2), signed)   # "3": -G and G - R
    return aw.Network.wrap(model.eval(), input_size=input_size)


def part_pictures(count: int, side: int = 8, seed: int = 0) -> list[np.ndarray]:
    """Red and green blobs, each off on half the pixels (so pure points exist), blue noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        pic = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
        pic[..., 0] *= rng.random((side, side)) < 0.5
        pic[..., 1] *= rng.random((side, side)) < 0.5
        out.append(pic)
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def net():
    return mixing_net()


@pytest.fixture(scope="module")
def pictures():
    return part_pictures(12)


class Photos(torch.utils.data.Dataset):
    """A dataset that raises KeyboardInterrupt when image ``trap`` is read (a Ctrl-C)."""

    def __init__(self, images, trap=None):
        self.images, self.trap = images, trap

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i == self.trap:
            raise KeyboardInterrupt
        return self.images[i]


# ---------------------------------------------------------------------- the factorisation


def test_two_known_parts_mixed_into_channels_are_recovered_up_to_order_and_scale(net, pictures):
    c = aw.layer_concepts(net, pictures, "1", n=2, progress=False)
    assert c.explained > 0.999 and c.sample.positions == 12 * 64 and c.complete
    match = sorted(range(2), key=lambda i: -c.loadings[i, 0] / c.loadings[i].sum())  # R first
    for got, want in zip(c.loadings[match], PARTS, strict=True):
        assert cosine(got, want) > 0.999
    # each concept's maps are its part: the red and green of the pictures, up to a scale
    acts_r = np.stack([p[..., 0] for p in pictures]).astype(np.float64)
    acts_g = np.stack([p[..., 1] for p in pictures]).astype(np.float64)
    assert cosine(c.maps[:, match[0]].ravel(), acts_r.ravel()) > 0.999
    assert cosine(c.maps[:, match[1]].ravel(), acts_g.ravel()) > 0.999
    assert c.top_channels(match[0], 1) == [3] and set(c.top_channels(match[0], 3)) == {0, 1, 3}
    assert set(c.top_channels(match[1], 2)) == {1, 2}
    # the activations are the loadings times the maps
    acts = aw.activations(net, pictures, "1", "post")
    again = np.einsum("kc,nkhw->nchw", c.loadings, c.maps)
    assert np.allclose(again, acts, atol=1e-3 * acts.max())


def test_our_loss_is_scikit_learns_objective():
    rng = np.random.default_rng(1)
    x = (rng.random((300, 12)) * (rng.random((300, 12)) < 0.6)).astype(np.float32)
    ours = factor.fit(x, 4, seed=3)
    model = NMF(4, init="nndsvda", solver="cd", max_iter=factor.MAX_ITER, tol=1e-4, random_state=3)
    w = model.fit_transform(x)
    assert ours.error == pytest.approx(model.reconstruction_err_, rel=1e-6)
    assert ours.error == pytest.approx(np.linalg.norm(x - ours.weights @ ours.loadings), rel=1e-4)
    assert np.allclose(ours.loadings, model.components_) and np.allclose(ours.weights, w)
    assert ours.explained == pytest.approx(1 - model.reconstruction_err_ / np.linalg.norm(x))


def test_layer_concepts_on_one_image_is_scikit_learns_nmf_of_its_activations(net, pictures):
    c = aw.layer_concepts(net, pictures[0], "1", n=3, seed=5, progress=False)
    acts = aw.activations(net, pictures[0], "1", "post")
    x = np.ascontiguousarray(acts.reshape(4, -1).T)   # (positions, channels), as the pass has it
    model = NMF(3, init="nndsvda", solver="cd", max_iter=factor.MAX_ITER, random_state=5)
    w = model.fit_transform(x)
    assert c.maps.shape == (1, 3, 8, 8)
    assert np.allclose(c.maps[0], w.T.reshape(3, 8, 8), atol=1e-5)
    assert c.explained == pytest.approx(1 - model.reconstruction_err_ / np.linalg.norm(x), abs=1e-6)


def test_projection_is_non_negative_least_squares_per_position():
    rng = np.random.default_rng(2)
    loadings = rng.random((5, 16)).astype(np.float32)
    x = rng.random((40, 16)).astype(np.float32)
    w = factor.project(x, loadings)
    assert w.shape == (40, 5) and (w >= 0).all()
    for row, got in zip(x, w, strict=True):
        want, _ = nnls(loadings.T.astype(np.float64), row.astype(np.float64))
        best = np.linalg.norm(row - want @ loadings.astype(np.float64))
        ours = np.linalg.norm(row - got.astype(np.float64) @ loadings.astype(np.float64))
        assert best - 1e-6 <= ours <= best * (1 + 1e-4) + 1e-6
        assert np.allclose(got, want, atol=5e-3)          # scikit-learn's tolerance, 1e-4


# ---------------------------------------------------------------------- a collection


def test_a_sample_then_a_projection_bounds_the_sample_and_keeps_every_map(net, pictures):
    c = aw.layer_concepts(net, pictures, "1", n=2, positions=100, fit_images=5, top=3,
                          progress=False)
    assert c.sample.images == 5 and c.sample.positions == 5 * 20 <= 100    # ceil(100 / 5) each
    assert c.maps.shape == (12, 2, 8, 8) and (c.maps >= 0).all() and c.projected == 12
    assert c.explained > 0.999                  # the parts are the same in every picture
    whole = aw.layer_concepts(net, pictures, "1", n=2, progress=False)   # every position
    order = [int(np.argmax([cosine(a, b) for b in whole.loadings])) for a in c.loadings]
    for a, b in zip(c.loadings, whole.loadings[order], strict=True):
        assert cosine(a, b) > 0.999
    bare = aw.layer_concepts(net, pictures, "1", n=2, positions=100, fit_images=5, top=3,
                             keep_maps=False, progress=False)
    assert bare.maps.shape == (0, 2, 8, 8) and bare.explained == pytest.approx(c.explained)
    assert [e.index for e in bare.top(0)] == [e.index for e in c.top(0)]


def test_a_sample_of_whole_images_is_projected_from_memory(net, pictures):
    run = dict(n=2, positions=300, fit_images=4, top=3, batch_size=4, progress=False)
    c = aw.layer_concepts(net, pictures, "1", **run)     # 75 cells asked of 64: all of them
    assert (c.sample.images, c.sample.positions, c.projected) == (4, 4 * 64, 12)
    assert c.has_maps.all() and c.complete
    rest = sorted(set(range(12)) - set(c.sample.indices))
    for i in (c.sample.indices[0], rest[0]):
        assert np.allclose(c.maps[i], c.project(pictures[i]), atol=1e-4 * c.maps.max())
    acts = aw.activations(net, pictures, "1", "post")
    rebuilt = np.einsum("kc,nkhw->nchw", c.loadings, c.maps)
    assert c.explained == pytest.approx(1 - np.linalg.norm(acts - rebuilt) / np.linalg.norm(acts),
                                        abs=1e-5)
    with pytest.warns(RuntimeWarning, match="interrupted after 8 of 12 images while projecting"):
        p = aw.layer_concepts(net, Photos(pictures, trap=rest[5]), "1", **run)
    assert p.projected == 8 and set(np.flatnonzero(p.has_maps)) == set(c.sample.indices) | set(rest[:4])
    assert np.allclose(p.maps[p.has_maps], c.maps[p.has_maps]) and not p.maps[~p.has_maps].any()


def test_the_same_seed_gives_the_same_concepts_whatever_the_batches(net, pictures):
    run = dict(n=2, positions=60, fit_images=4, progress=False)
    a = aw.layer_concepts(net, pictures, "1", seed=7, batch_size=5, **run)
    b = aw.layer_concepts(net, pictures, "1", seed=7, batch_size=5, **run)
    c = aw.layer_concepts(net, pictures, "1", seed=7, batch_size=2, **run)
    assert np.array_equal(a.loadings, b.loadings) and np.array_equal(a.maps, b.maps)
    assert np.array_equal(a.loadings, c.loadings)          # the sample does not see batches
    assert np.allclose(a.maps, c.maps, atol=1e-4 * a.maps.max())
    other = aw.layer_concepts(net, pictures, "1", seed=8, **run)
    assert other.sample.positions == a.sample.positions and not np.array_equal(other.maps, a.maps)


def test_top_cells_are_the_images_where_a_concept_is_strongest(net, pictures):
    c = aw.layer_concepts(net, pictures, "1", n=2, top=4, progress=False)
    for i in range(2):
        best = c.maps[:, i].reshape(12, -1).max(axis=1)
        entries = c.top(i)
        assert [e.index for e in entries] == list(np.argsort(-best, kind="stable")[:4])
        e = entries[0]
        assert e.channel == i and e.score == pytest.approx(best[e.index], rel=1e-5)
        assert c.maps[e.index, i][e.cell] == pytest.approx(e.score, rel=1e-5)
        assert e.box == (e.cell[1], e.cell[0], e.cell[1] + 1, e.cell[0] + 1)   # a 1×1 conv
    assert c.patches(0, 1)[0].shape == (1, 1, 3)


def test_ctrl_c_gives_the_concepts_of_what_is_done(net, pictures):
    with pytest.warns(RuntimeWarning, match="interrupted after 4 of 12 images"):
        c = aw.layer_concepts(net, Photos(pictures, trap=5), "1", n=2, batch_size=2,
                              progress=False)
    assert (c.projected, c.complete, c.sample.positions) == (4, False, 4 * 64)
    assert c.maps.shape == (12, 2, 8, 8) and not c.maps[4:].any() and c.maps[:4].any()
    with pytest.raises(IndexError, match="4 of 12 images were projected"):
        c.strength(5)
    run = dict(n=2, positions=100, fit_images=4, batch_size=2, progress=False)
    sampled = aw.layer_concepts(net, pictures, "1", **run).sample.indices
    trap = min(set(range(1, 12)) - set(sampled))
    with pytest.warns(RuntimeWarning, match="while projecting"):
        p = aw.layer_concepts(net, Photos(pictures, trap=trap), "1", **run)
    assert (p.projected, p.sample.indices) == (trap // 2 * 2, sampled)
    whole = aw.layer_concepts(net, pictures, "1", **run)
    assert np.array_equal(p.maps[:p.projected], whole.maps[:p.projected])
    with pytest.warns(RuntimeWarning, match="while sampling"):
        s = aw.layer_concepts(net, Photos(pictures, trap=sampled[2]), "1", **run)
    assert (s.projected, s.sample.indices, s.maps.any()) == (0, sampled[:2], False)
    trapped = Photos(pictures, trap=0)      # nothing read: nothing to fit, Ctrl-C goes on
    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        aw.layer_concepts(net, trapped, "1", n=2, progress=False)


# ---------------------------------------------------------------------- what it gives


def test_directions_pictures_and_projection_of_another_image(net, pictures):
    c = aw.layer_concepts(net, pictures, "1", n=2, progress=False)
    d = c.direction(0)
    assert d.shape == (4,) and np.linalg.norm(d) == pytest.approx(1) and c.directions().shape == (2, 4)
    assert np.allclose(c.project(pictures[3]), c.maps[3], atol=1e-3 * c.maps.max())
    plain = c.picture(3, alpha=0.0)
    assert np.array_equal(plain, net.image(pictures[3]))
    s = c.strength(3)
    assert s.shape == (2, 8, 8) and s.max() <= 1 and (s >= 0).all()
    assert c.png(3)[:4] == b"\x89PNG" and c.colors.shape == (2, 3)
    assert "2 concepts of 4 channels, 12 images" in repr(c)


def test_a_pixel_with_one_concept_takes_its_colour():
    maps = np.zeros((3, 2, 2), np.float32)
    maps[0, 0, 0], maps[2, 1, 1] = 4.0, 1.0
    pic = concept_picture(np.full((2, 2, 3), 255, np.uint8), maps, np.array([4.0, 1, 1]), alpha=1)
    colors = concept_colors(3)
    assert pic[0, 0].tolist() == colors[0].tolist() and pic[1, 1].tolist() == colors[2].tolist()
    assert pic[0, 1].tolist() == [255, 255, 255]                # no concept: the image
    assert len({tuple(x) for x in concept_colors(14)}) == 14


def test_a_direction_objective_one_hot_is_the_channel_objective():
    torch.manual_seed(0)
    net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU()).eval(), input_size=16)
    one_hot = np.eye(5, dtype=np.float32)[[0, 1]]
    for method in ("basic", "regularized"):
        run = dict(steps=3, size=16, method=method, progress=False)
        by_channel = aw.visualize_channels(net, "1", [0, 1], **run)
        by_direction = aw.visualize_channels(net, "1", one_hot, **run)
        assert np.array_equal(by_channel, by_direction)
    acts = torch.rand(2, 5, 3, 3)
    w = torch.rand(2, 5)
    want = (acts * w[:, :, None, None]).sum(1).mean(dim=(1, 2))
    assert torch.allclose(objectives.direction_mean(acts, w), want)
    with pytest.raises(ValueError, match=r"shape \(5,\) or \(k, 5\)"):
        aw.visualize_channels(net, "1", np.ones(4, np.float32), steps=1, progress=False)


def test_a_concept_is_visualised_as_its_direction(net, pictures):
    c = aw.layer_concepts(net, pictures[:2], "1", n=2, progress=False)
    pics = c.visualize([1], steps=2, size=16, progress=False)
    same = aw.visualize_channels(net, "1", c.direction(1), steps=2, size=16, progress=False)
    assert pics.shape == (1, 16, 16, 3) and np.array_equal(pics, same)


# ---------------------------------------------------------------------- bad input


def test_bad_input_gets_a_sentence(net, pictures):
    with pytest.raises(ValueError, match="n must be between 1 and 4"):
        aw.layer_concepts(net, pictures, "1", n=0, progress=False)
    with pytest.raises(ValueError, match="n must be between 1 and 4"):
        aw.layer_concepts(net, pictures, "1", n=5, progress=False)
    with pytest.raises(TypeError, match="must be an int"):
        aw.layer_concepts(net, pictures, "1", n="2", progress=False)
    with pytest.raises(ValueError, match="stage='post'"):
        aw.layer_concepts(net, pictures, "0", stage="pre", progress=False)
    with pytest.raises(NegativeValuesError, match="after a ReLU"):
        aw.layer_concepts(net, pictures, "3", n=1, progress=False)   # a conv with no ReLU after
    with pytest.raises(ValueError, match="no images"):
        aw.layer_concepts(net, [], "1", n=2, progress=False)
    with pytest.raises(TypeError, match="actwidgets.Network"):
        aw.layer_concepts(net.model, pictures, "1", n=2)
    black = [np.zeros((8, 8, 3), np.uint8)]
    with pytest.raises(ValueError, match="all zero"):
        aw.layer_concepts(net, black, "1", n=2, progress=False)


def test_a_1x1_layer_factorises_over_images_and_says_when_there_are_too_few():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    torch.manual_seed(0)
    net = aw.Network.wrap(model.eval(), input_size=8)
    with pytest.raises(ValueError, match="1 positions, fewer than n=2"):
        aw.layer_concepts(net, part_pictures(1)[0], "2", n=2, progress=False)
    c = aw.layer_concepts(net, part_pictures(6), "2", n=2, progress=False)
    assert c.maps.shape == (6, 2, 1, 1)
    with pytest.raises(IndexError, match="2 concepts"):
        c.top_channels(2)


# ---------------------------------------------------------------------- Ray


def test_the_ray_worker_in_process_gives_the_local_parts(net, pictures):
    """read_batch and ConceptWorker as Ray runs them, without a cluster."""
    import pickle

    from actwidgets.atlas import ray_engine
    from actwidgets.atlas.sources import PreparedImages, collate, collection
    from actwidgets.concepts.collect import _plan
    from actwidgets.concepts.ray_pass import ConceptWorker
    from actwidgets.concepts.work import Work, compute

    plan = _plan(net, "1", 2, None, 0, 100, 3, True)
    images = collection(pictures)
    loadings = aw.layer_concepts(net, pictures, "1", n=2, progress=False).loadings
    for work in (Work("sample", quota=5), Work("project", loadings=loadings)):
        worker = ConceptWorker(net.model, net.preprocess, net.extractor.backend, plan, work)
        read = ray_engine.read_batch({"id": np.array([3, 7, 8])}, images, net.preprocess, 0)
        part = pickle.loads(worker(read)["payload"][0])
        local = compute(net, plan, work, collate([PreparedImages(images, net.preprocess)[i]
                                                  for i in (3, 7, 8)]))
        assert part["index"].tolist() == local["index"].tolist() == [3, 7, 8]
        if work.kind == "sample":
            assert all(np.array_equal(a, b) for a, b in zip(part["rows"], local["rows"], strict=True))
        else:
            assert np.allclose(part["maps"], local["maps"].numpy()) and part["first"] == 3


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_ray_concepts_equal_the_local_ones(net, pictures):
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    import os

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run = dict(n=2, positions=100, fit_images=5, top=3, batch_size=4, progress=False)
        local = aw.layer_concepts(net, pictures, "1", **run)
        on_ray = aw.layer_concepts(net, pictures, "1", engine="ray", actors=1, **run)
    finally:
        if started:
            ray.shutdown()
    assert on_ray.sample == local.sample and np.array_equal(on_ray.loadings, local.loadings)
    assert np.allclose(on_ray.maps, local.maps, atol=1e-5 * local.maps.max())
    assert [e.index for e in on_ray.top(0)] == [e.index for e in local.top(0)]
    assert on_ray.explained == pytest.approx(local.explained, abs=1e-6) and on_ray.complete
