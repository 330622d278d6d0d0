"""The zoo: weights, names, preprocessing, classification, wrapping a user's model."""

from __future__ import annotations

import urllib.error
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.model.zoo import RANDOM_WEIGHTS_ENV

from conftest import squeezenet_weights_path


def _fire_names(n: int) -> list[str]:
    parts = ["squeeze1x1", "expand1x1", "expand3x3"]
    names = []
    for p in parts:
        names += [f"fire{n}-{p}", f"fire{n}-relu_{p}"]
    return names + [f"fire{n}-concat"]


MATLAB_SQUEEZENET = (
    ["conv1", "relu_conv1", "pool1"] + _fire_names(2) + _fire_names(3) + ["pool3"]
    + _fire_names(4) + _fire_names(5) + ["pool5"]
    + [name for n in (6, 7, 8, 9) for name in _fire_names(n)]
    + ["conv10", "relu_conv10", "pool10"]
)


def test_squeezenet_lists_matlabs_layers_in_forward_order(squeezenet):
    assert squeezenet.pretrained
    assert squeezenet.layers.names == MATLAB_SQUEEZENET
    info = squeezenet.layers["fire6-squeeze1x1"]
    assert (info.kind, info.channels, info.size, info.has_stages) == ("conv", 48, (14, 14), True)
    assert info.label == "fire6-squeeze1x1 · 48 ch · 14×14"
    assert info.default_stage == "pre"  # MATLAB's conv layer outputs the pre-ReLU value
    assert squeezenet.layers["fire6-relu_squeeze1x1"].default_stage == "post"
    assert squeezenet.layers["pool1"].has_stages is False
    assert squeezenet.layers["conv1"].size == (113, 113)  # MATLAB's 227×227 input


def test_native_and_container_names_resolve(squeezenet):
    layers = squeezenet.layers
    assert layers["features.9.squeeze"].name == "fire6-squeeze1x1"
    assert layers["features.3"].name == "fire2-concat"  # a Fire block's output is its concat
    assert layers.resolve("fire6-squeeze1x1", "post") == layers.resolve("fire6-relu_squeeze1x1")
    assert list(layers.groups())[:3] == ["conv1", "fire2", "fire3"]


def test_unknown_layer_lists_the_closest_names(squeezenet):
    with pytest.raises(aw.LayerNameError, match="fire6-squeeze1x1") as err:
        squeezenet.layers["fire6-squeeze"]
    assert "net.layers.names" in str(err.value)
    with pytest.raises(ValueError, match="stage"):
        squeezenet.layers["conv1"].point("middle")


def test_googlenet_and_vgg16_names():
    g = aw.load_model("googlenet", weights=None)
    assert g.pretrained is False
    assert g.layers.names[:8] == [
        "conv1-7x7_s2", "conv1-relu_7x7", "pool1-3x3_s2", "conv2-3x3_reduce",
        "conv2-relu_3x3_reduce", "conv2-3x3", "conv2-relu_3x3", "pool2-3x3_s2",
    ]
    conv1 = g.layers["conv1-7x7_s2"]
    assert (conv1.kind, conv1.channels, conv1.size) == ("conv", 64, (112, 112))
    assert conv1.pre == "conv1.bn" and conv1.post == "conv1.relu"  # value right before the ReLU
    assert g.layers["inception_3a-relu_1x1"].pre == "inception3a.branch1.bn"
    assert g.layers["inception_3a-output"].channels == 256
    assert g.layers["conv1.conv"].kind == "conv"  # native names still work

    v = aw.load_model("vgg16", weights=None)
    keras = [n for n in v.layers.names if n.startswith("block")]
    assert keras[:5] == ["block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2"]
    assert keras[-1] == "block5_pool" and len(keras) == 18
    b41 = v.layers["block4_conv1"]
    assert b41.default_stage == "post" and b41.has_stages  # Keras fuses the ReLU
    assert b41.point() == "features.18" and b41.point("pre") == "features.17"


def test_missing_weights_raise_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)

    def offline(*args, **kwargs):  # never touch the network in tests
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(aw.WeightsUnavailableError) as err:
        aw.load_model("googlenet")
    message = str(err.value)
    assert "googlenet-1378be20.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "weights=None" in message and RANDOM_WEIGHTS_ENV in message


def test_random_fallback_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", lambda *a, **k: 1 / 0)
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        net = aw.load_model("googlenet")
    assert net.pretrained is False
    assert "RANDOM" in repr(net)


def test_weights_from_a_local_state_dict(tmp_path):
    source = aw.load_model("squeezenet", weights=None)
    path = tmp_path / "mine.pth"
    torch.save(source.model.state_dict(), path)
    net = aw.load_model("squeezenet", weights=str(path))
    assert net.pretrained
    for a, b in zip(source.model.state_dict().values(), net.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    torch.save({"nope": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="does not fit"):
        aw.load_model("squeezenet", weights=str(tmp_path / "bad.pth"))
    with pytest.raises(FileNotFoundError, match="no weights file"):
        aw.load_model("squeezenet", weights=str(tmp_path / "missing.pth"))


def test_bad_names_and_weights():
    with pytest.raises(ValueError, match="squeezenet"):
        aw.load_model("squeezenett")
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        aw.load_model("squeezenet", weights="IMAGENET_V9")


def test_any_torchvision_model_by_name():
    net = aw.load_model("resnet18", weights=None)
    assert net.layers["layer1.0.conv1"].has_stages is False  # a batch norm follows, not a ReLU
    assert net.layers["layer1.0.bn1"].post == "layer1.0.relu"
    assert net.layers["layer1.0.bn1"].channels == 64
    assert net.layers["layer1.0.add"].kind == "add"  # the residual sum, a function call


def test_classify_with_the_real_weights(squeezenet):
    # ../shared/weights/README.md, measured with torchvision's 224-pixel transforms: chelsea
    # gives Egyptian cat 0.70, coffee gives espresso 0.84.
    at224 = aw.load_model("squeezenet", input_size=224)
    top = aw.classify(at224, aw.sample_image("cat"), top=3)
    assert top[0][0] == "Egyptian cat" and top[0][1] == pytest.approx(0.70, abs=0.03)
    assert {name for name, _ in top} == {"Egyptian cat", "tiger cat", "tabby"}
    best, p = aw.classify(at224, aw.sample_image("coffee"), top=1)[0]
    assert best == "espresso" and p == pytest.approx(0.84, abs=0.03)
    # At MATLAB's 227 pixels (the zoo's default for SqueezeNet) the answers hold too.
    assert aw.classify(squeezenet, aw.sample_image("coffee"), top=1)[0][0] == "espresso"
    assert aw.classify(squeezenet, aw.sample_image("cat"), top=1)[0][0] == "Egyptian cat"
    probs = [p for _, p in aw.classify(squeezenet, aw.sample_image("coffee"), top=1000)]
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="top"):
        aw.classify(squeezenet, aw.sample_image("cat"), top=0)


def test_wrap_a_users_model():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    model(torch.zeros(1, 1, 16, 16))  # materialise the lazy layer
    net = aw.Network.wrap(model, categories=["no", "yes"], input_size=16)
    assert net.preprocess.channels == 1  # first conv takes one channel: grey input
    assert "own weights" in repr(net)
    assert net.layers.names == ["0", "1", "3"]
    acts = aw.activations(net, np.full((20, 20), 255, np.uint8), "0", "pre")
    assert acts.shape == (4, 14, 14)
    assert [name for name, _ in aw.classify(net, np.zeros((16, 16), np.uint8))] != []
    assert aw.classify(net, np.zeros((16, 16), np.uint8), top=2)[0][0] in {"no", "yes"}
    with pytest.raises(TypeError, match="Module"):
        aw.Network.wrap("model")  # type: ignore[arg-type]


def test_wrap_takes_torchvision_transforms_and_dicts():
    import torchvision

    tf = torchvision.models.SqueezeNet1_1_Weights.DEFAULT.transforms()
    model = nn.Sequential(nn.Conv2d(3, 2, 3))
    net = aw.Network.wrap(model, tf, input_size=64)
    assert net.preprocess.size == (64, 64) and net.preprocess.resize == 73
    net2 = aw.Network.wrap(model, {"mean": (0.5,) * 3, "std": (0.5,) * 3}, input_size=8)
    assert net2.preprocess.mean == (0.5, 0.5, 0.5)


def test_preprocess_matches_torchvision(squeezenet):
    import torchvision
    from PIL import Image

    image = aw.sample_image("cat")
    tf = torchvision.models.SqueezeNet1_1_Weights.DEFAULT.transforms()
    ours = aw.Preprocess.from_transforms(tf).tensor(image)
    theirs = tf(Image.fromarray(image))
    assert ours.shape == theirs.shape == (3, 224, 224)
    # torchvision resizes a PIL image with PIL itself: the same pixels.
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_load_model_does_not_warn_for_random_weights():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aw.load_model("googlenet", weights=None)


def test_vgg16_without_its_head(tmp_path):
    full = aw.load_model("vgg16", weights=None)
    path = tmp_path / "vgg16.pth"
    torch.save(full.model.state_dict(), path)
    net = aw.load_model("vgg16", weights=str(path), head=False)
    assert isinstance(net.model.classifier, nn.Identity)
    assert sum(p.numel() for p in net.model.parameters()) < 15_000_000
    assert net.layers.names[-2:] == ["block5_pool", "avgpool"] and "fc1" not in net.layers
    face = aw.sample_image("face")
    np.testing.assert_array_equal(
        aw.activations(net, face, "block3_conv1"), aw.activations(full, face, "block3_conv1")
    )
    with pytest.raises(ValueError, match="head=False"):
        aw.classify(net, face)
    with pytest.raises(ValueError, match="vgg16"):
        aw.load_model("squeezenet", weights=None, head=False)
    random = aw.load_model("vgg16", weights=None, head=False)
    assert random.layers["block1_conv1"].channels == 64 and not random.pretrained


def test_closest_names_are_listed_once(squeezenet):
    with pytest.raises(aw.LayerNameError) as err:
        squeezenet.layers["fire6-squeez1x1"]
    close = str(err.value).split("Closest: ")[1].split(".")[0].split(", ")
    assert close[0] == "fire6-squeeze1x1" and len(close) == len(set(close))


def test_random_weights_are_seeded_and_leave_the_global_rng_alone():
    state = torch.random.get_rng_state()
    a = aw.load_model("squeezenet", weights=None)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = aw.load_model("squeezenet", weights=None)
    c = aw.load_model("squeezenet", weights=None, seed=1)
    wa, wb, wc = (n.model.features[0].weight for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_wrap_reads_a_torchvision_model_s_own_preprocessing_and_classes():
    import torchvision

    net = aw.Network.wrap(torchvision.models.resnet18())
    pre = torchvision.models.ResNet18_Weights.DEFAULT.transforms()
    assert net.preprocess == aw.Preprocess.from_transforms(pre)
    assert net.categories[:2] == ["tench", "goldfish"]
    assert aw.Network.wrap(torchvision.models.resnet18(), input_size=112).input_size == (112, 112)


def test_wrap_reads_timm_s_pretrained_cfg():
    timm = pytest.importorskip("timm")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    net = aw.Network.wrap(model)
    cfg = timm.data.resolve_model_data_config(model)
    assert net.input_size == tuple(cfg["input_size"][1:])
    assert net.preprocess.mean == tuple(cfg["mean"]) and net.preprocess.std == tuple(cfg["std"])
    assert net.preprocess.interpolation == cfg["interpolation"]
    assert net.preprocess.resize == int(224 / cfg["crop_pct"])
    assert len(net.categories) == 1000
    # A timm ViT's blocks come back as 14×14 maps with the class token kept apart.
    block = net.layers["blocks.0.mlp.fc1"]
    assert (block.channels, block.size, block.layout.extra) == (768, (14, 14), 1)


def test_a_damaged_weights_file_is_reported_as_damaged(tmp_path, monkeypatch):
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    real = squeezenet_weights_path()
    name = "squeezenet1_1-b8a52dc0.pth"
    damaged = checkpoints / name
    damaged.write_bytes(real.read_bytes()[:1000] if real else b"PK\x03\x04 not a zip")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)
    with pytest.raises(aw.WeightsFileError, match=r"damaged.*Delete it"):
        aw.load_model("squeezenet")
    # A local file of another architecture: it does not fit, and the message says so.
    other = tmp_path / "other.pth"
    torch.save(torch.nn.Linear(2, 2).state_dict(), other)
    with pytest.raises(aw.WeightsFileError, match="does not fit"):
        aw.load_model("squeezenet", weights=other)


def test_the_googlenet_table_hides_torchvision_s_input_transform():
    import torchvision

    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False,
                                         transform_input=True)
    net = aw.Network(model.eval(), aw.Preprocess(224), names=aw.ZOO["googlenet"].names)
    assert net.layers.names[0] == "conv1-7x7_s2"


def test_wrap_takes_the_compose_from_a_training_script():
    from torchvision import transforms as T
    from torchvision.transforms import v2

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    for t in (T, v2):
        steps = [t.Resize(160), t.CenterCrop(128)]
        steps += [t.ToTensor()] if t is T else [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        compose = t.Compose([*steps, t.Normalize((0.4, 0.5, 0.6), (0.2, 0.25, 0.3))])
        net = aw.Network.wrap(model, preprocess=compose)
        assert net.preprocess == aw.Preprocess(128, 160, (0.4, 0.5, 0.6), (0.2, 0.25, 0.3))
        image = aw.sample_image("cat")
        from PIL import Image

        expected = compose(Image.fromarray(image))
        torch.testing.assert_close(net.tensor(image)[0], expected, atol=0.02, rtol=0)
    straight = aw.Network.wrap(model, preprocess=T.Compose([T.Resize((40, 60)), T.ToTensor()]))
    assert straight.input_size == (40, 60) and straight.preprocess.mean == (0.0, 0.0, 0.0)


def test_wrap_takes_any_callable_and_says_what_it_hides():
    from torchvision import transforms as T

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    opaque = T.Compose([T.Resize((48, 64)), T.Lambda(lambda im: im.rotate(180)), T.ToTensor(),
                        T.Normalize((0.5,) * 3, (0.5,) * 3)])
    net = aw.Network.wrap(model, preprocess=opaque)
    assert not net.preprocess.geometry_known and net.input_size == (48, 64)
    image = aw.sample_image("cat")
    from PIL import Image

    np.testing.assert_allclose(aw.activations(net, image, "0", "pre"),
                               model[0](opaque(Image.fromarray(image))[None])[0].detach().numpy(),
                               atol=1e-5)
    with pytest.raises(ValueError, match="resize and crop are hidden"):
        net.preprocess.mask(np.ones((300, 451), bool))
    aw.visualize_channels(net, "0", [0], steps=1, size=32, progress=False)  # Normalize was read

    def plain(im):  # a function: nothing to read
        return torch.from_numpy(np.asarray(im.resize((32, 32)), np.float32) / 255).permute(2, 0, 1)

    fn_net = aw.Network.wrap(model, preprocess=plain)
    assert aw.activations(fn_net, image, "1").shape == (4, 30, 30)
    with pytest.raises(ValueError, match="hides its normalisation"):
        aw.visualize_channels(fn_net, "0", [0], steps=1, size=32, progress=False)


def test_a_model_that_needs_another_input_size_says_input_size():
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10)).eval()
    net = aw.Network.wrap(model, preprocess=aw.Preprocess(224, None, (0.5,), (0.5,)))
    with pytest.raises(aw.ExtractionError, match=r"input_size=\(H, W\)"):
        net.layers
    ok = aw.Network.wrap(model, input_size=28, preprocess={"mean": (0.5,), "std": (0.5,)})
    assert ok.layers.names == ["1"]


@pytest.mark.parametrize("size", [0, -5, 28.5, True, (3, 4, 5), "28"])
def test_a_bad_input_size_is_refused_clearly(size):
    with pytest.raises(ValueError, match=r"a size must be a positive int or \(height, width\)"):
        aw.Network.wrap(torch.nn.Conv2d(3, 4, 3).eval(), input_size=size)
