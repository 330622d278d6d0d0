"""MATLAB's Caffe networks: the .caffemodel reader, the conversion, the architecture against
Caffe's prototxt, the download path, and the classifications measured on the real weights."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.model import zoo
from actwidgets.model.caffe import CaffeFormatError, caffe_state_dict, convert_caffemodel, read_caffemodel
from actwidgets.model.caffe_nets import CaffeGoogLeNet
from actwidgets.model.weights import RANDOM_WEIGHTS_ENV

SHARED = Path(__file__).resolve().parents[2] / "shared"
CHECKPOINTS = SHARED / "torch-home" / "hub" / "checkpoints"
PROTOTXT = SHARED / "weights" / "caffe" / "bvlc_googlenet.deploy.prototxt"


# ------------------------------------------------------------------ a protobuf writer of our own
def varint(v: int) -> bytes:
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return varint(number << 3) + varint(payload)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def blob_new(a: np.ndarray) -> bytes:
    """BlobProto with ``shape`` (field 7) and packed float data (field 5)."""
    shape = field(1, b"".join(varint(d) for d in a.shape))  # packed int64 dims
    return field(7, shape) + field(5, np.asarray(a, "<f4").tobytes())


def blob_old(a: np.ndarray) -> bytes:
    """BlobProto with num/channels/height/width (fields 1-4), an InnerProduct as 1×1×out×in."""
    dims = (1, 1, *a.shape) if a.ndim == 2 else (1, 1, 1, a.shape[0]) if a.ndim == 1 else a.shape
    shape = b"".join(field(i + 1, int(d)) for i, d in enumerate(dims))
    return shape + field(5, np.asarray(a, "<f4").tobytes())


def caffemodel(state: dict[str, torch.Tensor], encoding: str) -> bytes:
    """A .caffemodel holding ``state`` (keys "<layer>.weight"/".bias") in one of Caffe's two
    layer encodings: ``"layer"`` (field 100: name 1, type 2, blobs 7) or ``"layers"`` (the old
    V1LayerParameter in field 2: name 4, type 5 as an enum, blobs 6)."""
    layers: dict[str, list[np.ndarray]] = {}
    for key, value in state.items():
        layers.setdefault(key.rsplit(".", 1)[0], []).append(value.numpy())
    out = field(1, b"a net")  # NetParameter.name
    for name, blobs in layers.items():
        if encoding == "layer":
            body = (field(1, name.encode()) + field(2, b"Convolution")
                    + b"".join(field(7, blob_new(b)) for b in blobs))
            out += field(100, body)
        else:
            body = field(4, name.encode()) + field(5, 4) + b"".join(field(6, blob_old(b)) for b in blobs)
            out += field(2, body)
    return out


def shared(name: str) -> dict[str, torch.Tensor]:
    path = CHECKPOINTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not here (../shared)")
    return torch.load(path, weights_only=True)


# ------------------------------------------------------------------ the reader
@pytest.mark.parametrize("encoding", ["layer", "layers"])
def test_the_reader_reads_both_layer_encodings(encoding):
    rng = np.random.default_rng(0)
    state = {"conv1.weight": torch.from_numpy(rng.standard_normal((4, 3, 3, 3), dtype=np.float32)),
             "conv1.bias": torch.arange(4.0), "fc/x.weight": torch.ones(5, 4),
             "fc/x.bias": torch.zeros(5)}
    blobs = read_caffemodel(caffemodel(state, encoding))
    assert list(blobs) == ["conv1", "fc/x"]
    back = caffe_state_dict(blobs)
    assert list(back) == list(state)
    for key in state:
        assert back[key].shape == state[key].shape, key
        assert torch.equal(back[key], state[key]), key


def test_the_reader_rejects_what_is_not_a_caffemodel(tmp_path):
    with pytest.raises(CaffeFormatError, match="no layer with weights"):
        read_caffemodel(field(1, b"just a name"))
    with pytest.raises(CaffeFormatError, match="truncated"):
        read_caffemodel(caffemodel({"a.weight": torch.ones(2, 2)}, "layer")[:-3])
    with pytest.raises(CaffeFormatError):
        read_caffemodel(b"\x0f\x00garbage")


@pytest.mark.weights
@pytest.mark.parametrize("name,encoding", [("bvlc_googlenet-caffe.pth", "layer"),
                                           ("squeezenet_v1.1-caffe.pth", "layers")])
def test_converting_gives_exactly_the_shared_files_layout(name, encoding, tmp_path):
    state = shared(name)
    source = tmp_path / "net.caffemodel"
    source.write_bytes(caffemodel(state, encoding))
    converted = convert_caffemodel(source, tmp_path / name)
    again = torch.load(tmp_path / name, weights_only=True)
    assert list(converted) == list(state) == list(again)
    for key, value in state.items():
        assert again[key].dtype == torch.float32 and torch.equal(again[key], value), key


# ------------------------------------------------------------------ the architecture
def _prototxt_layers() -> list[dict[str, str]]:
    if not PROTOTXT.is_file():
        pytest.skip(f"{PROTOTXT} is not here (../shared)")
    layers = []
    for block in re.findall(r"layer \{(.*?)\n\}", PROTOTXT.read_text(), flags=re.S):
        fields: dict[str, str] = {}
        pattern = r"^\s*(name|type|num_output|kernel_size|stride|pad|pool): \"?([^\"\n]+)\"?"
        for key, value in re.findall(pattern, block, flags=re.M):
            fields.setdefault(key, value)  # the layer's own type, not its fillers'
        layers.append(fields)
    return layers


def test_the_googlenet_modules_are_caffe_s_layers():
    model = CaffeGoogLeNet()
    modules = dict(model.named_modules())
    seen = 0
    for layer in _prototxt_layers():
        module = modules.get(layer["name"].replace("/", "."))
        kind = layer["type"]
        if kind == "Convolution":
            assert isinstance(module, nn.Conv2d), layer
            assert module.out_channels == int(layer["num_output"])
            assert module.kernel_size[0] == int(layer["kernel_size"])
            assert module.stride[0] == int(layer.get("stride", 1))
            assert module.padding[0] == int(layer.get("pad", 0))
        elif kind == "Pooling":
            cls = nn.MaxPool2d if layer["pool"] == "MAX" else nn.AvgPool2d
            assert isinstance(module, cls), layer
            assert module.kernel_size == int(layer["kernel_size"])
            assert module.stride == int(layer.get("stride", 1))
            assert module.padding == int(layer.get("pad", 0))
        elif kind == "LRN":
            assert isinstance(module, nn.LocalResponseNorm), layer
            assert (module.size, module.alpha, module.beta) == (5, 1e-4, 0.75)
        elif kind == "ReLU":
            assert isinstance(module, nn.ReLU), layer
        elif kind == "InnerProduct":
            assert isinstance(module, nn.Linear) and module.out_features == int(layer["num_output"])
        else:
            continue
        seen += 1
    assert seen == 57 + 57 + 14 + 2 + 1  # convs, ReLUs, pools, LRNs, the classifier


# ------------------------------------------------------------------ the zoo
def _caffe_spec(monkeypatch, name: str, **changes):
    entry = zoo.ZOO[name]
    spec = dataclasses.replace(entry.caffe, **changes)
    monkeypatch.setitem(zoo.ZOO, name, dataclasses.replace(entry, caffe=spec))
    return spec


@pytest.mark.weights
def test_a_missing_file_is_downloaded_checked_and_converted(tmp_path, monkeypatch):
    state = shared("bvlc_googlenet-caffe.pth")
    original = tmp_path / "served" / "bvlc_googlenet.caffemodel"
    original.parent.mkdir()
    original.write_bytes(caffemodel(state, "layer"))
    sha1 = hashlib.sha1(original.read_bytes()).hexdigest()
    _caffe_spec(monkeypatch, "googlenet", url=original.as_uri(), sha1=sha1)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)
    net = aw.load_model("googlenet", weights="caffe")
    cached = tmp_path / "home" / "hub" / "checkpoints" / "bvlc_googlenet-caffe.pth"
    again = torch.load(cached, weights_only=True)
    assert list(again) == list(state) and all(torch.equal(again[k], v) for k, v in state.items())
    assert net.pretrained and aw.classify(net, aw.sample_image("coffee"), top=1)[0][0] == "espresso"
    assert not list(cached.parent.glob("*.download"))  # the download is not left behind


def test_a_download_that_fails_its_checksum_is_refused(tmp_path, monkeypatch):
    original = tmp_path / "bvlc_googlenet.caffemodel"
    original.write_bytes(caffemodel({"conv1/7x7_s2.weight": torch.ones(1, 3, 1, 1)}, "layer"))
    _caffe_spec(monkeypatch, "googlenet", url=original.as_uri())  # the published sha1 stays
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)
    with pytest.raises(aw.WeightsFileError, match="SHA-1"):
        aw.load_model("googlenet", weights="caffe")
    assert not list((tmp_path / "home").rglob("*.pth"))


def test_offline_without_the_file_the_error_says_what_to_do(tmp_path, monkeypatch):
    _caffe_spec(monkeypatch, "squeezenet", url=(tmp_path / "nowhere.caffemodel").as_uri())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)
    with pytest.raises(aw.WeightsUnavailableError, match="squeezenet_v1.1-caffe.pth.*neither in the cache"):
        aw.load_model("squeezenet", weights="caffe")
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    with pytest.warns(RuntimeWarning, match="RANDOM"):
        net = aw.load_model("squeezenet", weights="caffe")
    assert not net.pretrained and net.layers["fire6-squeeze1x1"].channels == 48


def test_caffe_weights_only_for_the_matlab_networks():
    with pytest.raises(ValueError, match="squeezenet.*googlenet"):
        aw.load_model("vgg16", weights="caffe")


@pytest.mark.weights
@pytest.mark.parametrize("name,image,expected", [
    ("squeezenet", "coffee", [("espresso", 0.998)]),
    ("squeezenet", "cat", [("Egyptian cat", 0.516), ("tiger cat", 0.309), ("tabby", 0.158)]),
    ("googlenet", "coffee", [("espresso", 0.974)]),
    ("googlenet", "cat", [("Egyptian cat", 0.620), ("tiger cat", 0.210), ("tabby", 0.147)]),
])
def test_classifications_match_the_figures_measured_on_the_weights(name, image, expected):
    """../shared/weights/README.md: resized straight to the input size, PIL bilinear."""
    if not (CHECKPOINTS / zoo.ZOO[name].caffe.filename).is_file():
        pytest.skip("the Caffe weights are not here (../shared)")
    net = _caffe_net(name)
    top = aw.classify(net, aw.sample_image(image), top=len(expected))
    for (category, p), (want, q) in zip(top, expected, strict=True):
        assert category.split(",")[0] == want and abs(p - q) < 0.01, (top, expected)


_NETS: dict[str, aw.Network] = {}


def _caffe_net(name: str) -> aw.Network:
    if name not in _NETS:
        _NETS[name] = aw.load_model(name, weights="caffe")
    return _NETS[name]


@pytest.mark.weights
def test_matlab_s_googlenet_names_mean_the_real_convolution_output():
    if not (CHECKPOINTS / "bvlc_googlenet-caffe.pth").is_file():
        pytest.skip("the Caffe weights are not here (../shared)")
    net = _caffe_net("googlenet")
    face = aw.sample_image("face")
    pre = aw.activations(net, face, "conv1-7x7_s2")  # MATLAB: before the ReLU
    post = aw.activations(net, face, "conv1-relu_7x7")
    np.testing.assert_array_equal(post, np.maximum(pre, 0))
    x = net.tensor(face)
    conv = net.model.conv1[0]
    np.testing.assert_allclose(pre, conv(x)[0].detach().numpy(), rtol=1e-5, atol=1e-3)
    out = aw.activations(net, face,
                         ["inception_3a-1x1", "inception_3a-relu_pool_proj", "inception_3a-output"])
    assert out["inception_3a-output"].shape == (256, 28, 28)
    np.testing.assert_array_equal(out["inception_3a-output"][:64], np.maximum(out["inception_3a-1x1"], 0))
    np.testing.assert_array_equal(out["inception_3a-output"][-32:], out["inception_3a-relu_pool_proj"])
    assert net.layers["conv1-7x7_s2"].filters == "conv1.7x7_s2"
    assert net.layers.names[:6] == ["conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2", "pool1-norm1",
                                    "conv2-3x3_reduce", "conv2-relu_3x3_reduce"]
    assert net.layers.names[-2:] == ["pool5-7x7_s1", "loss3-classifier"]
