"""The atlas on a class's own files: damaged atlas files, odd file names, empty scans."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.atlas import AtlasFileError, receptive_field


def tiny_net() -> aw.Network:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(4, 3, 3), nn.ReLU())
    return aw.Network.wrap(model.eval(), input_size=24)


@pytest.fixture(scope="module")
def net():
    return tiny_net()


@pytest.fixture(scope="module")
def saved(net, tmp_path_factory):
    rng = np.random.default_rng(0)
    pictures = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8) for _ in range(4)]
    atlas = aw.channel_atlas(net, pictures, ["1", "3"], top=2, progress=False)
    return atlas, atlas.save(tmp_path_factory.mktemp("atlas") / "atlas.npz")


def _rewrite(src, dst, change):
    """A copy of the atlas file ``src`` with its arrays passed through ``change(dict)``."""
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    with open(dst, "wb") as f:
        np.savez(f, **arrays)
    return dst


def _edit_meta(edit):
    def change(arrays):
        meta = json.loads(str(arrays["meta"][()]))
        edit(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    return change


def damaged(src, tmp_path):
    raw = src.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(raw[: len(raw) // 2])
    noise = tmp_path / "noise.npz"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    flipped = tmp_path / "flipped.npz"
    middle = bytearray(raw)
    middle[len(raw) // 2: len(raw) // 2 + 64] = bytes(64)
    flipped.write_bytes(bytes(middle))
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    return {
        "cut short": (cut, "damaged"),
        "random bytes": (noise, "no atlas file, or it is damaged"),
        "empty": (empty, "no atlas file, or it is damaged"),
        "overwritten in the middle": (flipped, "damaged"),
        "another npz": (other, "no channel atlas file"),
        "header not JSON": (_rewrite(src, tmp_path / "json.npz", lambda a: a.update(meta=np.array("{oops"))),
                            "header is damaged"),
        "header edited": (_rewrite(src, tmp_path / "edited.npz", _edit_meta(lambda m: m.pop("k"))),
                          "header is damaged"),
        "layers edited": (_rewrite(src, tmp_path / "layers.npz",
                                   _edit_meta(lambda m: m.update(layers=7))), "header is damaged"),
        "other version": (_rewrite(src, tmp_path / "version.npz",
                                   _edit_meta(lambda m: m.update(format="x/9"))), "version"),
        "table of the wrong shape": (_rewrite(src, tmp_path / "shape.npz", lambda a: a.update(
            {"table0/index": a["table0/index"][:, :1]})),
            "'table0/index' is int64 (4, 1), where the header says (4, 2)"),
        "table missing": (_rewrite(src, tmp_path / "missing.npz", lambda a: a.pop("table1/max")),
                          "lacks its array 'table1/max'"),
        "field of the wrong shape": (_rewrite(src, tmp_path / "field.npz", lambda a: a.update(
            {"field1/rows": np.zeros((3, 3), np.int32)})), "'field1/rows'"),
        "text where numbers go": (_rewrite(src, tmp_path / "text.npz", lambda a: a.update(
            {"table0/max": np.full((4, 2), "x")})), "'table0/max'"),
    }


def test_a_damaged_atlas_file_says_which_file_and_what_to_do(saved, tmp_path):
    atlas, path = saved
    assert aw.ChannelAtlas.load(path).meta == atlas.meta  # the good file loads
    for what, (bad, words) in damaged(path, tmp_path).items():
        with pytest.raises(AtlasFileError) as info:
            aw.ChannelAtlas.load(bad)
        text = str(info.value)
        assert text.startswith(f"{bad}: "), what
        assert words in text, (what, text)
        assert "compute the atlas again with channel_atlas(...)" in text, what
        assert "allow_pickle" not in text, what
        assert isinstance(info.value, ValueError)
    with pytest.raises(AtlasFileError, match="no such atlas file"):
        aw.ChannelAtlas.load(tmp_path / "nowhere.npz")
    zipfile.ZipFile(path).close()  # the good file was never touched


# ---------------------------------------------------------------------------- odd collections


def _photo_files(folder, names):
    """Small PNGs under ``folder`` (bytes), named by the bytes ``names``; their str paths."""
    from PIL import Image

    paths = []
    for i, name in enumerate(names):
        path = os.fsdecode(os.path.join(os.fsencode(folder), name))
        Image.fromarray(np.full((30, 30, 3), 40 * i + 20, np.uint8)).save(path, format="PNG")
        paths.append(path)
    return paths


@pytest.mark.skipif(sys.platform != "linux", reason="file names as bytes: Linux file systems")
def test_file_names_that_are_no_utf8_are_read(net, tmp_path):
    paths = _photo_files(tmp_path, [b"caf\xe9.png", b"ok.png", b"\xff\xfe-latin.png"])
    by_folder = aw.channel_atlas(net, tmp_path, "1", top=3, progress=False)
    by_list = aw.channel_atlas(net, paths, "1", top=3, progress=False)
    for atlas in (by_folder, by_list):
        assert atlas.complete and atlas.skipped.count == 0
        assert sorted(e.index for e in atlas.top("1", 0)) == [0, 1, 2]
    back = aw.ChannelAtlas.load(by_list.save(tmp_path / "atlas.npz"))
    best = back.top("1", 0)[0]
    assert best.path in paths and os.fsencode(best.path) in [os.fsencode(p) for p in paths]
    assert best.patch().shape[2] == 3  # read again from its odd name
    assert by_list.fingerprint != aw.channel_atlas(net, paths[:2], "1", progress=False).fingerprint


def test_a_scan_that_reads_no_image_says_so(net, tmp_path):
    (tmp_path / "a.png").write_bytes(b"not a picture")
    (tmp_path / "b.jpg").write_bytes(b"")
    with pytest.warns(RuntimeWarning,
                      match=r"none of the 2 images scanned could be read, so the atlas is empty"):
        atlas = aw.channel_atlas(net, tmp_path, "1", progress=False)
    assert atlas.skipped.count == 2
    (tmp_path / "a.png").unlink(), (tmp_path / "b.jpg").unlink()
    (tmp_path / "notes.txt").write_text("no pictures here")
    with pytest.raises(ValueError, match="holds no image to scan"):
        aw.channel_atlas(net, tmp_path, "1", progress=False)
    with pytest.raises(ValueError, match="the list holds no image to scan"):
        aw.channel_atlas(net, [], "1", progress=False)


class _Normalised(torch.utils.data.Dataset):
    """What ``ImageFolder(root, transform=Compose([ToTensor(), Normalize(...)]))`` gives."""

    def __len__(self) -> int:
        return 3

    def __getitem__(self, i: int):
        picture = torch.full((3, 20, 20), 0.1 * i)
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        return (picture - mean[:, None, None]) / std[:, None, None], i


def test_a_dataset_of_normalised_tensors_is_refused_with_the_way_out(net):
    with pytest.raises(ValueError, match=r"the Dataset's images are normalised \(values in "
                       r"\[-2.12, -1.8\].*build the dataset without Normalize"):
        aw.channel_atlas(net, _Normalised(), "1", progress=False)
    plain = torch.utils.data.TensorDataset(torch.rand(3, 3, 20, 20))  # ToTensor() alone: fine
    assert aw.channel_atlas(net, plain, "1", top=3, progress=False).skipped.count == 0


# ---------------------------------------------------------------------------- receptive fields


class _SqueezeExcite(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(self.pool(x)))


class _Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 4, 3, padding=2, dilation=2), nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return torch.relu(self.a(x) + self.b(x)) * 0.5


class _Concat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, stride=1, padding=1)

    def forward(self, x):
        return torch.cat([x, self.conv(x)], dim=1)


def _geometry_cases():
    torch.manual_seed(0)
    return {
        "dilation, residual, 'same'": nn.Sequential(
            nn.Conv2d(3, 4, 5, stride=2, padding="valid"), nn.BatchNorm2d(4), nn.ReLU(),
            _Residual(), nn.Conv2d(4, 4, 3, padding="same"), nn.MaxPool2d(3, 2, ceil_mode=True)),
        "pools and concatenation": nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.AvgPool2d(2), nn.ReLU6(), _Concat(),
            nn.MaxPool2d(2, stride=1, padding=1), nn.AdaptiveMaxPool2d(5)),
        "broadcast of a pooled map": nn.Sequential(
            nn.Conv2d(3, 4, 3), _SqueezeExcite(), nn.Conv2d(4, 2, 2, stride=2)),
    }


@pytest.mark.parametrize("case", list(_geometry_cases()))
def test_fields_read_from_the_graph_are_the_measured_ones(case):
    from actwidgets.atlas._analytic import spans

    net = aw.Network.wrap(_geometry_cases()[case].eval(), input_size=(29, 23))
    for info in net.layers:
        point = info.point("pre")
        assert spans(net, point) is not None, (case, info.name)  # no back-propagation
        read = receptive_field(net, info.name)
        measured = receptive_field(net, info.name, measure=True)
        np.testing.assert_array_equal(read.rows, measured.rows, err_msg=f"{case} {info.name}")
        np.testing.assert_array_equal(read.cols, measured.cols, err_msg=f"{case} {info.name}")


def test_squeezenet_fields_are_read_from_the_graph_as_measured():
    from actwidgets.atlas._analytic import spans

    net = aw.load_model("squeezenet", weights=None)
    for layer in ("conv1", "fire3-concat", "pool5", "pool10"):
        assert spans(net, net.layers.get(layer).point("pre")) is not None
        read, measured = receptive_field(net, layer), receptive_field(net, layer, measure=True)
        np.testing.assert_array_equal(read.rows, measured.rows, err_msg=layer)
        np.testing.assert_array_equal(read.cols, measured.cols, err_msg=layer)


def test_an_unknown_op_is_measured():
    from actwidgets.atlas._analytic import spans

    class Reflect(nn.Module):
        def forward(self, x):
            return torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")

    net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 2, 3), Reflect(), nn.Conv2d(2, 2, 3)), input_size=12)
    assert spans(net, net.layers.get("0").point("pre")) is not None
    assert spans(net, net.layers.get("2").point("pre")) is None  # after the padding: measured
    field = receptive_field(net, "2")
    assert field.box((0, 0)) == (0, 0, 4, 4) and field.box((5, 5)) == (4, 4, 9, 9)


def test_ctrl_c_while_fields_are_measured_returns_an_atlas_to_resume(monkeypatch):
    import actwidgets.atlas.engine as engine

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 3, 3), nn.ReLU())
    net = aw.Network.wrap(model, input_size=16, backend="hooks")  # no graph: measured
    pictures = [np.full((20, 20, 3), v, np.uint8) for v in (10, 90, 200)]
    measure = engine.receptive_field
    calls = []

    def interrupted_on_the_second(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return measure(*args, **kwargs)

    monkeypatch.setattr(engine, "receptive_field", interrupted_on_the_second)
    with pytest.warns(RuntimeWarning, match=r"interrupted while measuring receptive fields "
                      r"\(1 of 2 layers\), before any image was scanned.*atlas.resume"):
        part = aw.channel_atlas(net, pictures, ["0", "2"], top=2, progress=False)
    assert part.scanned == 0 and not part.complete and part.top("0", 1) == []
    monkeypatch.setattr(engine, "receptive_field", measure)
    saved = part.save(Path(tempfile.mkdtemp()) / "p.npz")
    resumed = aw.ChannelAtlas.load(saved).resume(net, pictures, progress=False)
    whole = aw.channel_atlas(net, pictures, ["0", "2"], top=2, progress=False)
    assert resumed.complete and np.array_equal(resumed.field("2").rows, whole.field("2").rows)
    assert [e.index for e in resumed.top("2", 0)] == [e.index for e in whole.top("2", 0)]


def test_a_relus_maxima_follow_from_its_inputs():
    from actwidgets.atlas.topk import peaks, relu_peaks

    torch.manual_seed(0)
    maps = torch.randn(5, 6, 7, 9)
    maps[0, 1] = -1.0            # a channel that the ReLU turns all to zero
    maps[1, 2] = 0.0             # zeros everywhere: ties, the first cell
    maps[2, 3, 4, 5] = maps[2, 3, 1, 1] = 9.0   # a tie: the first in row-major order
    top, cell = relu_peaks(peaks(maps))
    want_top, want_cell = peaks(torch.relu(maps))
    assert torch.equal(top, want_top) and torch.equal(cell, want_cell)
    assert cell[0, 1] == 0 and cell[1, 2] == 0 and cell[2, 3] == 1 * 9 + 1
