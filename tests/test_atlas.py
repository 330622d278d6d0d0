"""The channel atlas: top-k against brute force, receptive fields by hand, resume, file, skips."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data
from torch import nn

import actwidgets as aw
from actwidgets.atlas import receptive_field, topk
from actwidgets.atlas.topk import FIELDS

LAYERS = ["0", "3", "5"]  # conv (pre/post), conv in place (pre/post), pool after the ReLU


def photos() -> list[np.ndarray]:
    """scikit-image's photos, crops of them and generated pictures, of several sizes."""
    astronaut, coffee = data.astronaut(), data.coffee()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:90, 0:120]
    return [
        astronaut, data.chelsea(), coffee, data.rocket(), data.camera(), data.coins(),
        astronaut[40:240, 150:330], coffee[100:300, 200:500], astronaut[::3, ::2],
        rng.integers(0, 256, (70, 50, 3), dtype=np.uint8),
        np.stack([(xx * 2) % 256, (yy * 3) % 256, (xx + yy) % 256], axis=2).astype(np.uint8),
        np.full((40, 60, 3), 200, np.uint8),
    ]


def tiny_net(seed: int = 0) -> aw.Network:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 5, 3, stride=2), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
    )
    return aw.Network.wrap(model.eval(), input_size=32)


@pytest.fixture(scope="module")
def net():
    return tiny_net()


@pytest.fixture(scope="module")
def pictures():
    return photos()


def brute_force(net, images, layer, stage, score, k):
    """(indices, scores, cells) per channel from every activation, sorted by hand."""
    acts = aw.activations(net, images, layer, stage=stage)          # (N, C, H, W)
    n, c, h, w = acts.shape
    flat = acts.reshape(n, c, -1)
    value = flat.max(axis=2) if score == "max" else flat.mean(axis=2)
    cells = flat.argmax(axis=2)
    out = []
    for ch in range(c):
        order = sorted(range(n), key=lambda i: (-value[i, ch], i))[:k]
        out.append((order, value[order, ch], [divmod(int(cells[i, ch]), w) for i in order]))
    return out


def assert_same_tables(a, b):
    assert a._tables.keys() == b._tables.keys()
    for key in a._tables:
        for f in FIELDS:
            np.testing.assert_array_equal(a._tables[key][f], b._tables[key][f], err_msg=f"{key} {f}")


# ---------------------------------------------------------------------------- top-k


@pytest.mark.parametrize("score", ["max", "mean"])
def test_top_k_equals_brute_force_both_stages(net, pictures, score):
    atlas = aw.channel_atlas(net, pictures, LAYERS, top=4, score=("max", "mean"),
                             batch_size=5, progress=False)
    assert atlas.complete and atlas.scanned == len(pictures) and atlas.skipped.count == 0
    for layer in LAYERS:
        for stage in net.layers[layer].stages:  # a pool has one stage: "pre" is refused
            for ch, (order, values, cells) in enumerate(brute_force(net, pictures, layer, stage, score, 4)):
                entries = atlas.top(layer, ch, stage=stage, score=score)
                assert [e.index for e in entries] == order, (layer, stage, ch)
                np.testing.assert_allclose([e.score for e in entries], values, rtol=1e-5, atol=1e-6)
                assert [e.rank for e in entries] == [0, 1, 2, 3]
                if score == "max":
                    assert [e.cell for e in entries] == cells


@pytest.fixture(scope="module")
def squeezenet_random():
    return aw.load_model("squeezenet", weights=None)


def test_squeezenet_matlab_names_and_default_stage(squeezenet_random, pictures):
    net = squeezenet_random
    images = pictures[:6]
    atlas = aw.channel_atlas(net, images, ["conv1", "fire9-expand3x3"], top=3, progress=False)
    for layer in ("conv1", "fire9-expand3x3"):
        stage = net.layers.get(layer).default_stage            # conv1: "pre", as in MATLAB
        assert atlas.top(layer, 0)[0].stage == stage
        for ch in (0, 7):
            order, values, _ = brute_force(net, images, layer, stage, "max", 3)[ch]
            entries = atlas.top(layer, ch)
            assert [e.index for e in entries] == order
            np.testing.assert_allclose([e.score for e in entries], values, rtol=1e-4, atol=1e-5)
    assert atlas.field("conv1").extent == (3, 3)


def test_ties_go_to_the_lower_index(net):
    same = [np.full((30, 30, 3), 90, np.uint8)] * 5
    # batch_size=1: every image in a batch of its own gives bit-identical values (a batch of
    # another size may differ in the last bits, which is no tie)
    atlas = aw.channel_atlas(net, same, ["0"], top=3, batch_size=1, progress=False)
    for ch in range(6):
        assert [e.index for e in atlas.top("0", ch, stage="pre")] == [0, 1, 2]


def test_merging_in_any_grouping_gives_the_same_table():
    rng = np.random.default_rng(3)
    maps = torch.from_numpy(rng.integers(0, 4, (40, 3, 2, 2)).astype(np.float32))  # many ties
    index, size = torch.arange(40), torch.zeros(40, 4, dtype=torch.int32)

    def best(table, g, by):
        cand = topk.candidates(maps[g], index[g], size[g])
        return topk.merge(table, cand, 5, by)

    for by in ("max", "mean"):
        whole = best(topk.empty(3, 5), slice(0, 40), by)
        for groups in ([slice(0, 40)], [slice(0, 7), slice(7, 40)], [slice(30, 40), slice(0, 30)],
                       [slice(i, i + 3) for i in range(39, -1, -3)],          # last first
                       [slice(i, i + 3) for i in range(0, 40, 3)]):         # in order
            table = topk.empty(3, 5)
            for g in groups:
                table = topk.merge(table, best(topk.empty(3, 5), g, by), 5, by)   # as Ray's parts
            assert torch.equal(table, whole), by
            table = topk.empty(3, 5)
            for g in groups:
                table = best(table, g, by)                                     # as a local scan
            assert torch.equal(table, whole), by
        scores = topk.to_numpy(whole)[by]
        assert (np.diff(scores, axis=1) <= 0).all()


def test_fewer_images_than_k(net, pictures):
    atlas = aw.channel_atlas(net, pictures[:2], ["3"], top=5, progress=False)
    assert len(atlas.top("3", 0)) == 2
    assert atlas.table("3")["index"].shape == (5, 5)
    assert (atlas.table("3")["index"][:, 2:] == -1).all()


def test_memory_is_bounded_by_layers_channels_k(net, pictures):
    small = aw.channel_atlas(net, pictures[:3], LAYERS, top=3, progress=False)
    large = aw.channel_atlas(net, pictures * 2, LAYERS, top=3, progress=False)
    assert small.nbytes == large.nbytes
    bytes_per_slot = 8 + 4 + 4 + 4 + 16          # index, max, mean, cell, sizes
    points = {p for layer in LAYERS for p in (net.layers[layer].pre, net.layers[layer].post)}
    channels = sum(net.extractor.point(p).channels for p in points)
    assert large.nbytes == channels * 3 * bytes_per_slot
    for key, table in large._tables.items():
        assert table["index"].shape == (net.extractor.point(key[0]).channels, 3)


# ---------------------------------------------------------------------------- receptive fields


def _spans(n: int, start, stop, limit: int) -> np.ndarray:
    return np.array([[max(0, start(i)), min(limit, stop(i))] for i in range(n)])


def test_receptive_fields_of_a_hand_made_model():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),          # 24×24: rows [i-1, i+2)
        nn.Conv2d(4, 4, 3, stride=2), nn.ReLU(),           # 11×11: [2i-1, 2i+4)
        nn.Conv2d(4, 4, 3, dilation=2), nn.ReLU(),         # 7×7: [2i-1, 2i+12)
        nn.AdaptiveAvgPool2d(1),                           # 1×1: the whole input
    )
    net = aw.Network.wrap(model, input_size=24)
    expected = {
        "0": _spans(24, lambda i: i - 1, lambda i: i + 2, 24),
        "2": _spans(11, lambda i: 2 * i - 1, lambda i: 2 * i + 4, 24),
        "4": _spans(7, lambda i: 2 * i - 1, lambda i: 2 * i + 12, 24),
        "6": np.array([[0, 24]]),
    }
    for layer, spans in expected.items():
        field = receptive_field(net, layer)
        np.testing.assert_array_equal(field.rows, spans, err_msg=layer)
        np.testing.assert_array_equal(field.cols, spans, err_msg=layer)
    assert receptive_field(net, "6").covers_input()
    assert receptive_field(net, "3").box((2, 1)) == receptive_field(net, "2").box((2, 1)) == (1, 3, 6, 8)


def test_squeezenet_fields_match_the_layer_arithmetic(squeezenet_random):
    net = squeezenet_random
    # SqueezeNet 1.1 by hand: conv1 3×3/2, pool 3×3/2, fire2-3 (expand 3×3/1), pool 3×3/2,
    # fire4-5, pool 3×3/2, fire6-9.
    steps = [(3, 2), (3, 2), (3, 1), (3, 1), (3, 2), (3, 1), (3, 1), (3, 2)] + [(3, 1)] * 4
    size, jump = 1, 1
    for kernel, stride in steps:
        size, jump = size + (kernel - 1) * jump, jump * stride
    assert (size, jump) == (207, 16)
    field = receptive_field(net, "fire9-expand3x3")
    assert field.extent == (size, size)
    y0, y1 = field.rows[6]                                       # the one cell not clipped
    assert y1 - y0 == size and field.rows[7][0] - y0 == jump      # stride 16
    assert receptive_field(net, "pool10").covers_input()


def test_the_box_of_the_maximum_holds_the_dot_that_made_it_fire():
    model = nn.Sequential(nn.Conv2d(3, 1, 3, bias=False), nn.ReLU(), nn.Conv2d(1, 1, 3, stride=2, bias=False))
    for conv in (model[0], model[2]):
        nn.init.constant_(conv.weight, 1.0)
    pre = aw.Preprocess(size=32, resize=40, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    net = aw.Network.wrap(model, preprocess=pre)
    blank = np.zeros((60, 90, 3), np.uint8)          # resized to 40×60, centre crop 32×32
    images = [blank.copy() for _ in range(4)]
    dots = {1: (30, 50), 3: (12, 30)}                # image -> (y, x) in the original
    for i, (y, x) in dots.items():
        images[i][y - 1:y + 2, x - 1:x + 2] = 255
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # one channel behind a ReLU: the field is whole
        atlas = aw.channel_atlas(net, images, ["0", "2"], top=2, progress=False)
    np.testing.assert_array_equal(atlas.field("2").rows, [[2 * i, 2 * i + 5] for i in range(14)])
    for layer in ("0", "2"):
        entries = atlas.top(layer, 0)
        assert {e.index for e in entries} == set(dots)
        for e in entries:
            y, x = dots[e.index]
            x0, y0, x1, y1 = e.box
            assert x0 <= x < x1 and y0 <= y < y1, (layer, e)
            assert e.image_size == (60, 90)
            assert abs(e.xy[0] - x) <= (x1 - x0) and abs(e.xy[1] - y) <= (y1 - y0)
            patch = atlas.patch(e, images)
            assert patch.shape == (y1 - y0, x1 - x0, 3) and patch.max() == 255


# ---------------------------------------------------------------------------- resume, file


class Photos(torch.utils.data.Dataset):
    """(image, label) pairs; ``trap`` makes one item press Ctrl-C."""

    def __init__(self, images):
        self.images, self.trap = images, None

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if i == self.trap:
            raise KeyboardInterrupt
        return self.images[i], i % 3


def test_ctrl_c_keeps_what_is_done_and_resume_finishes_it(net, pictures, tmp_path):
    dataset = Photos(pictures)
    whole = aw.channel_atlas(net, dataset, LAYERS, top=3, score="mean", batch_size=2, progress=False)
    dataset.trap = 5
    with pytest.warns(RuntimeWarning, match="interrupted after 4 of 12"):
        part = aw.channel_atlas(net, dataset, LAYERS, top=3, score="mean", batch_size=2)
    assert (part.scanned, part.complete) == (4, False)
    assert set(np.unique(part.table("0")["index"])) <= {0, 1, 2, 3}
    dataset.trap = None
    saved = aw.ChannelAtlas.load(part.save(tmp_path / "part.npz"))      # resume in a new session
    resumed = saved.resume(net, dataset, batch_size=2, progress=False)
    assert resumed.complete and resumed.scanned == 12
    assert_same_tables(resumed, whole)
    again = aw.channel_atlas(net, dataset, LAYERS, top=3, score="mean", batch_size=2,
                             resume=resumed, progress=False)               # nothing left to do
    assert_same_tables(again, whole)


def test_resume_refuses_other_images_or_weights(net, pictures):
    part = aw.channel_atlas(net, pictures[:4], ["0"], top=2, progress=False)
    with pytest.raises(ValueError, match="fingerprint"):
        aw.channel_atlas(net, pictures[1:5], ["0"], top=2, resume=part, progress=False)
    with pytest.raises(ValueError, match="weights"):
        aw.channel_atlas(tiny_net(seed=5), pictures[:4], ["0"], top=2, resume=part, progress=False)
    with pytest.raises(ValueError, match="layers"):
        aw.channel_atlas(net, pictures[:4], ["3"], top=2, resume=part, progress=False)


def test_save_and_load_round_trip(net, pictures, tmp_path):
    atlas = aw.channel_atlas(net, pictures[:5], LAYERS, top=2, score=("max", "mean"), progress=False)
    path = atlas.save(tmp_path / "atlas.npz")
    with np.load(path, allow_pickle=False) as raw:              # plain arrays, no pickles
        assert "meta" in raw.files
    back = aw.ChannelAtlas.load(path)
    assert back.meta == atlas.meta
    assert_same_tables(back, atlas)
    assert repr(back) == repr(atlas)
    for layer in LAYERS:
        mean_post = {"stage": "post", "score": "mean"}
        assert back.top(layer, 1, **mean_post) == atlas.top(layer, 1, **mean_post)
        np.testing.assert_array_equal(back.field(layer).rows, atlas.field(layer).rows)
    assert (back.model, back.weights, back.layers, back.stages, back.n_images) == (
        "Sequential", "own weights", LAYERS, ["pre", "post"], 5)
    assert back.meta.images.fingerprint == atlas.fingerprint
    assert back.meta.weights_digest == atlas.meta.weights_digest


# ---------------------------------------------------------------------------- sources


def _write_folder(root: Path, pictures) -> list[Path]:
    (root / "b" / "deeper").mkdir(parents=True)
    files = [root / "a.png", root / "b" / "c.jpg", root / "b" / "deeper" / "d.png", root / "e.webp"]
    for f, p in zip(files, pictures, strict=True):
        Image.fromarray(p).save(f, quality=95) if f.suffix == ".jpg" else Image.fromarray(p).save(f)
    (root / "b" / "broken.jpg").write_bytes(b"not a jpeg at all")
    good = (root / "a.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 3])
    (root / "notes.txt").write_text("not an image, ignored")
    return files


def test_folder_scan_skips_and_counts_unreadable_files(net, pictures, tmp_path):
    files = _write_folder(tmp_path, pictures[6:10])
    atlas = aw.channel_atlas(net, tmp_path, ["0"], top=3, progress=True)
    assert atlas.n_images == 6 and atlas.complete
    assert atlas.skipped.count == 2
    assert any("broken.jpg" in n for n in atlas.skipped.names)
    assert any("truncated.png" in n for n in atlas.skipped.names)
    order = sorted(files + [tmp_path / "b" / "broken.jpg", tmp_path / "truncated.png"],
                   key=lambda p: p.relative_to(tmp_path).as_posix())
    good = {order.index(f) for f in files}
    entries = atlas.top("0", 2)
    assert len(entries) == 3 and {e.index for e in entries} <= good
    for e in entries:
        assert Path(e.path) == order[e.index]
        assert e.patch().ndim == 3                        # loaded again from its file


def test_dataloader_with_workers_equals_the_list(net, pictures):
    listed = aw.channel_atlas(net, pictures, ["3"], top=3, progress=False)
    loader = torch.utils.data.DataLoader(Photos(pictures), batch_size=4, num_workers=2)
    loaded = aw.channel_atlas(net, loader, ["3"], top=3, progress=False)
    for key in listed._tables:
        np.testing.assert_array_equal(listed._tables[key]["index"], loaded._tables[key]["index"])
        np.testing.assert_allclose(listed._tables[key]["max"], loaded._tables[key]["max"], rtol=1e-5)


def test_cloud_style_uris_read_like_the_folder(net, pictures, tmp_path):
    pytest.importorskip("pyarrow.fs")
    _write_folder(tmp_path, pictures[6:10])
    local = aw.channel_atlas(net, tmp_path, ["0"], top=2, progress=False)
    remote = aw.channel_atlas(net, tmp_path.as_uri(), ["0"], top=2, progress=False)
    assert remote.n_images == 6 and remote.skipped.count == 2
    assert_same_tables(remote, local)
    entry = remote.top("0", 0)[0]
    assert entry.path.startswith("file://") and entry.patch().ndim == 3


def test_arguments_are_checked(net, pictures):
    for kwargs, match in [({"top": 0}, "top"), ({"engine": "spark"}, "engine"),
                          ({"stage": "middle"}, "stage"), ({"score": "median"}, "score"),
                          ({"batch_size": 0}, "batch_size")]:
        with pytest.raises(ValueError, match=match):
            aw.channel_atlas(net, pictures[:2], ["0"], progress=False, **kwargs)
    with pytest.raises(aw.LayerNameError):
        aw.channel_atlas(net, pictures[:2], ["conv9"], progress=False)
    with pytest.raises(TypeError, match="folder, a list"):
        aw.channel_atlas(net, 42, ["0"], progress=False)
    atlas = aw.channel_atlas(net, pictures[:2], ["0"], stage="post", progress=False)
    with pytest.raises(ValueError, match="not scanned"):
        atlas.top("0", 0, stage="pre")
    with pytest.raises(IndexError):
        atlas.top("0", 6)
    with pytest.raises(ValueError, match="pass the images"):
        atlas.top("0", 0)[0].patch()


def test_import_stays_light():
    """``import actwidgets`` imports no atlas module, and only ray_engine imports Ray, inside
    its functions (a subprocess would check the same in seconds of torch import)."""
    import ast

    package = Path(aw.__file__).parent
    top = ast.parse((package / "__init__.py").read_text())
    assert not [n for n in top.body if isinstance(n, ast.ImportFrom) and "atlas" in (n.module or "")]
    for path in (package / "atlas").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("ray", "pyarrow") for n in names):
                assert node not in tree.body, f"{path.name} imports {names} at import time"


def test_ray_engine_says_how_to_install_ray(net, pictures, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)          # as if Ray were not installed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ImportError, match=r"pip install -e \"\.\[scale\]\""):
            aw.channel_atlas(net, pictures[:2], ["0"], engine="ray", progress=False)
