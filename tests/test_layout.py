"""Every value comes out as (C, H, W): token sequences, channels-last values, vectors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.extract import Extractor, Layout
from actwidgets.extract._layout import infer_layouts


def test_shapes_are_read_by_the_input_grid():
    hw = (224, 224)
    lay = infer_layouts({
        "conv": (64, 56, 56), "patches": (768, 14, 14), "nhwc": (56, 56, 96), "vit": (197, 768),
        "deit": (198, 192), "reg": (201, 384), "swin": (3136, 96), "flat": (768, 196), "fc": (1000,),
        "odd": (7, 5),
    }, hw)
    assert lay["conv"] == Layout("chw") and lay["nhwc"] == Layout("hwc")
    assert lay["vit"] == Layout("tokens", 1) and lay["deit"] == Layout("tokens", 2)
    assert lay["reg"] == Layout("tokens", 5) and lay["swin"] == Layout("tokens", 0)
    assert lay["flat"] == Layout("channel_tokens") and lay["fc"] == Layout("vector")
    assert lay["odd"] == Layout("matrix")
    assert lay["vit"].map_shape((197, 768), hw) == (768, 14, 14)
    assert lay["nhwc"].map_shape((56, 56, 96), hw) == (96, 56, 56)
    # A non-square input: 12×20 patches of 16 px.
    patches = {"p": (32, 12, 20), "t": (241, 32)}
    assert infer_layouts(patches, (192, 320))["t"].map_shape((241, 32), (192, 320)) == (32, 12, 20)
    # Without a map of that grid in the model, a count is not read as grid + extra tokens.
    assert infer_layouts({"t": (241, 32)}, (192, 320))["t"] == Layout("matrix")


def test_to_map_moves_the_values_not_just_the_shape():
    tokens = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(2, 5, 3)  # 1 cls + 2×2 grid
    lay = Layout("tokens", 1)
    maps = lay.to_map(tokens, (32, 32))
    assert maps.shape == (2, 3, 2, 2)
    # Channel c at grid cell (i, j) is token 1 + 2i + j's feature c.
    for c in range(3):
        for i in range(2):
            for j in range(2):
                assert maps[1, c, i, j] == tokens[1, 1 + 2 * i + j, c]
    assert torch.equal(lay.extra_tokens(tokens), tokens[:, :1])
    hwc = torch.randn(1, 4, 6, 8)
    assert torch.equal(Layout("hwc").to_map(hwc, (4, 6))[0, 5], hwc[0, :, :, 5])
    with pytest.raises(ValueError, match="no class"):
        Layout("chw").extra_tokens(hwc)


class TinyViT(nn.Module):
    """Patch embedding, a class token, one LayerNorm and an MLP: ViT's layouts, by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 4, stride=4)
        self.cls = nn.Parameter(torch.randn(1, 1, 8))
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 16)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], dim=1)
        return self.act(self.fc(self.norm(t)))[:, 0]


@pytest.mark.parametrize("backend", ["fx", "hooks"])
def test_a_token_layer_comes_back_as_its_patch_grid(backend):
    torch.manual_seed(0)
    net = aw.Network.wrap(TinyViT().eval(), input_size=32, backend=backend)
    fc = net.layers["fc"]
    assert (fc.layout, fc.channels, fc.size) == (Layout("tokens", 1), 16, (8, 8))
    assert fc.post == "act" and fc.has_stages
    image = aw.sample_image("cat")
    maps = aw.activations(net, image, "fc", stage="both")
    native = aw.activations(net, image, "fc", "pre", layout="native")
    assert native.shape == (65, 16) and maps["pre"].shape == (16, 8, 8)
    # Patch (i, j) is token 1 + 8i + j.
    np.testing.assert_array_equal(maps["pre"][:, 2, 5], native[1 + 8 * 2 + 5])
    np.testing.assert_array_equal(aw.activations(net, image, "fc", "pre", layout="extra"), native[:1])
    with pytest.raises(ValueError, match="token layers"):
        aw.activations(net, image, "patch", layout="extra")


class ChannelsLast(nn.Module):
    """ConvNeXt's block: a depthwise conv, then LayerNorm and Linear on (N, H, W, C)."""

    def __init__(self) -> None:
        super().__init__()
        self.dw = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.LayerNorm(6)
        self.pw = nn.Linear(6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dw(x).permute(0, 2, 3, 1))
        return self.pw(y).permute(0, 3, 1, 2)


@pytest.mark.parametrize("backend", ["fx", "hooks"])
def test_a_channels_last_layer_comes_back_channels_first(backend):
    net = aw.Network.wrap(ChannelsLast().eval(), input_size=(12, 20), backend=backend)
    pw = net.layers["pw"]
    assert (pw.layout, pw.channels, pw.size) == (Layout("hwc"), 10, (12, 20))
    image = aw.sample_image("coffee")
    native = aw.activations(net, image, "pw", layout="native")
    np.testing.assert_array_equal(aw.activations(net, image, "pw"), native.transpose(2, 0, 1))


def test_vectors_are_channels_of_one_pixel():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 7))
    net = aw.Network.wrap(model.eval(), input_size=16)
    assert (net.layers["3"].channels, net.layers["3"].size) == (7, (1, 1))
    assert aw.activations(net, aw.sample_image("cat"), "3").shape == (7, 1, 1)


def test_torchvision_vit_swin_and_convnext_layers_match_the_catalogue():
    import torchvision

    cases = [
        (torchvision.models.vit_b_16(image_size=64).eval(), 64, "encoder.layers.encoder_layer_0.mlp.0",
         (3072, 4, 4)),
        (torchvision.models.swin_t().eval(), 64, "features.1.0.mlp.0", (384, 16, 16)),
        (torchvision.models.convnext_tiny().eval(), 64, "features.1.0.block.3", (384, 16, 16)),
    ]
    image = aw.sample_image("cat")
    for model, size, layer, shape in cases:
        net = aw.Network.wrap(model, input_size=size)
        info = net.layers[layer]
        assert (info.channels, *info.size) == shape, layer
        assert aw.activations(net, image, layer).shape == shape
        explorer = aw.ActivationExplorer(net, images={"cat": image})
        explorer.layer = layer
        explorer.channel = 3
        assert explorer.activations.shape == shape
        assert explorer.error == "", explorer.error


def test_extractor_maps_keep_gradients():
    ext = Extractor(TinyViT().eval(), torch.zeros(1, 3, 32, 32))
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    out = ext.run(x, ["fc"], grad=True, maps=True)["fc"]
    assert out.shape == (2, 16, 8, 8)
    out[:, 3].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


# ---------------------------------------------------------------------- decided by the module
class SquareBlock(nn.Module):
    """ConvNeXt's block where H == W == C (8 channels of 8×8 at 32 pixels)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.norm, self.fc, self.act = nn.LayerNorm(8), nn.Linear(8, 8), nn.GELU()
        self.out = nn.Conv2d(8, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.fc(self.norm(self.stem(x).permute(0, 2, 3, 1))))
        return self.out(y.permute(0, 3, 1, 2))


@pytest.mark.parametrize("backend", ["fx", "hooks"])
def test_a_square_channels_last_value_is_read_from_its_module(backend):
    torch.manual_seed(0)
    net = aw.Network.wrap(SquareBlock().eval(), input_size=32, backend=backend)
    kinds = {name: net.layers[name].layout.kind for name in ("stem", "norm", "fc", "out")}
    assert kinds == {"stem": "chw", "norm": "hwc", "fc": "hwc", "out": "chw"}
    image = aw.sample_image("cat")
    native = aw.activations(net, image, "fc", "pre", layout="native")  # (H, W, C)
    np.testing.assert_array_equal(aw.activations(net, image, "fc", "pre"), native.transpose(2, 0, 1))


def test_a_permute_flips_and_other_ops_keep_their_inputs_layout():
    from actwidgets.extract._layout import Hint, LayoutHints

    cube = (16, 16, 16)
    hints = LayoutHints({"conv": Hint("chw"), "p": Hint(src="conv", flip=True), "mul": Hint(src="p"),
                         "back": Hint(src="mul", flip=True)}, frozenset({(16, 16)}))
    lay = infer_layouts(dict.fromkeys(("conv", "p", "mul", "back"), cube), (64, 64), hints)
    assert [lay[n].kind for n in ("conv", "p", "mul", "back")] == ["chw", "hwc", "hwc", "chw"]
    # A model that declares itself channels last (timm's output_fmt = "NHWC").
    assert infer_layouts({"v": cube}, (64, 64), LayoutHints({}, default="hwc"))["v"].kind == "hwc"


def test_pooled_tokens_keep_their_class_token_apart():
    """PiT at 224 pixels: 1 class token + 27×27 patches (stride 8 without padding)."""
    from actwidgets.extract._layout import LayoutHints

    hints = LayoutHints({}, frozenset({(27, 27)}))
    lay = infer_layouts({"patch": (64, 27, 27), "t": (730, 64), "mlp": (730, 256)}, (224, 224), hints)
    assert lay["t"] == Layout("tokens", 1) and lay["mlp"] == Layout("tokens", 1)
    assert lay["t"].map_shape((730, 64), (224, 224)) == (64, 27, 27)


class PiTStage(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 4, 16, stride=8)
        self.cls = nn.Parameter(torch.randn(1, 1, 4))
        self.fc = nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.patch(x).flatten(2).transpose(1, 2)
        return self.fc(torch.cat([self.cls.expand(x.shape[0], -1, -1), t], dim=1))


@pytest.mark.parametrize("backend", ["fx", "hooks"])
def test_a_pit_stage_is_a_27_by_27_grid_with_its_class_token_apart(backend):
    torch.manual_seed(0)
    net = aw.Network.wrap(PiTStage().eval(), input_size=224, backend=backend)
    fc = net.layers["fc"]
    assert (fc.layout, fc.channels, fc.size) == (Layout("tokens", 1), 6, (27, 27))
    image = aw.sample_image("cat")
    native = aw.activations(net, image, "fc", layout="native")
    np.testing.assert_array_equal(aw.activations(net, image, "fc", layout="extra"), native[:1])
    np.testing.assert_array_equal(aw.activations(net, image, "fc")[:, 3, 4], native[1 + 27 * 3 + 4])


def test_query_key_products_are_no_maps():
    """CaiT at 224 pixels: 14×14 patches; (query, key, head) and (query, key) are no maps,
    a Linear's (tokens, features) is tokens even where features == tokens."""
    from actwidgets.extract._layout import Hint, LayoutHints

    hints = LayoutHints({"proj_l": Hint("hwc"), "qkv": Hint("hwc")}, frozenset({(14, 14)}))
    shapes = {"patch": (192, 14, 14), "proj_l": (196, 196, 4), "heads": (4, 196, 196),
              "qk": (196, 196), "qkv": (196, 196)}
    lay = infer_layouts(shapes, (224, 224), hints)
    assert (lay["proj_l"].kind, lay["heads"].kind, lay["qk"].kind) == ("stacked", "stacked", "matrix")
    assert lay["qkv"] == Layout("tokens", 0) and lay["patch"] == Layout("chw")
