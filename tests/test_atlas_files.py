"""The atlas on a class's own files: damaged atlas files, odd file names, empty scans."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.atlas import AtlasFileError


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
            {"table0/index": a["table0/index"][:, :1]})), "'table0/index' is int64 (4, 1), where the header says (4, 2)"),
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
