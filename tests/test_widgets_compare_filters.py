"""CompareExplorer and FilterExplorer, headless (helpers and fixtures: ``test_widgets.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets
from test_widgets import png_of, random_squeezenet, tiny  # noqa: F401 - fixtures
from torch import nn

import actwidgets as aw
from actwidgets.model.layers import LayerInfo
from actwidgets.widgets import CompareExplorer, FilterExplorer
from actwidgets.widgets.filters import NotAConvError, conv_module

# --------------------------------------------------------------------------- CompareExplorer


def test_compare_same_image_has_zero_difference(random_squeezenet):
    face = aw.sample_image("face")
    c = CompareExplorer(random_squeezenet, face, face.copy(), layer="fire6-relu_squeeze1x1")
    assert c.max_abs_difference == 0.0
    assert not np.any(c.difference)
    a, b = c.pngs[:2]
    assert a == b  # one scale for both: the same map gives the same picture
    assert "max |Δ| 0" in c.stats


def test_compare_open_and_closed_eye(random_squeezenet):
    c = CompareExplorer(
        random_squeezenet, aw.sample_image("face"), aw.sample_image("face_eye_closed"),
        labels=("open", "closed"), layer="fire6-relu_squeeze1x1", channel=13,
    )
    a, b = c.activations
    before = c.pngs
    c.controls["largest"].click()
    assert c.channel == int(np.argmax(np.abs(b - a).reshape(len(a), -1).max(axis=1)))
    assert c.error == "" and c.pngs != before
    assert c.max_abs_difference > 0
    np.testing.assert_array_equal(c.difference, b[c.channel] - a[c.channel])
    assert len(set(c.pngs)) == 3
    assert "one scale for both" in c.stats and "open" in c.stats
    # Shared controls, as in the explorer.
    c.layer = "pool1"
    assert c.controls["stage"].disabled and c.controls["channel"].max == 63
    assert len(repr(c)) < 200 and repr(c).startswith("CompareExplorer(squeezenet, labels=('open', 'closed')")


def test_compare_same_limits_for_both(tiny):
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 200, np.uint8)
    c = CompareExplorer(tiny, a, b, layer="0")
    # Different inputs give different constant maps; one shared scale shows them differently.
    pa, pb = (np.asarray(png_of(p).convert("RGB")) for p in c.pngs[:2])
    assert not np.array_equal(pa, pb)
    c.controls["contrast"].value = "stretch"
    assert c.contrast == "stretch" and c.error == ""


# --------------------------------------------------------------------------- FilterExplorer


def test_filter_explorer_on_squeezenet_conv1(random_squeezenet):
    f = FilterExplorer(random_squeezenet, "conv1")
    assert f.weights.shape == (64, 3, 3, 3) and f.controls["filter"].max == 63
    assert conv_module(random_squeezenet, "conv1")[0] == "features.0"
    pngs = f.pngs
    tiles = np.asarray(png_of(pngs["tiles"]).convert("RGB")).astype(int)
    # First-layer filters are colour pictures: the channels differ.
    assert np.abs(tiles[..., 0] - tiles[..., 1]).max() > 50
    assert png_of(pngs["frequency"]).size[0] >= 64 and png_of(pngs["weights"]).size[0] >= 200
    before = f.pngs
    f.controls["filter"].value = 5
    assert f.filter == 5
    assert f.pngs["weights"] != before["weights"] and f.pngs["tiles"] != before["tiles"]
    f.controls["input_channel"].value = 1  # the green channel, as in the GoogLeNet blog
    h = f.frequency_response
    assert h.shape == (64, 64)
    kernel = f.weights[5, 1]
    np.testing.assert_allclose(h[32, 32], abs(kernel.sum()), rtol=1e-5)  # DC gain
    assert "input G" in f.captions["frequency"]
    f.input_channel = -1
    assert f.frequency_response.shape == (3, 64, 64)
    with pytest.raises(traitlets.TraitError, match=r"0\.\.2"):
        f.input_channel = 3
    # Another conv layer from the dropdown: more inputs, the range follows.
    f.controls["layer"].value = "fire9-expand3x3"
    assert f.layer == "fire9-expand3x3" and f.weights.shape == (256, 64, 3, 3)
    assert f.controls["filter"].max == 255 and f.error == ""
    assert len(f.controls["input_channel"].options) == 65
    f.cmap = "plasma"
    assert f.controls["cmap"].value == "plasma" and "features.12.expand3x3" in f.captions["stats"]
    assert len(repr(f)) < 200


def test_filter_explorer_refuses_a_pool_layer(random_squeezenet):
    with pytest.raises(NotAConvError, match="conv1") as info:
        FilterExplorer(random_squeezenet, "pool1")
    assert isinstance(info.value, ValueError) and isinstance(info.value, traitlets.TraitError)
    assert "pool" in str(info.value)
    f = FilterExplorer(random_squeezenet)
    with pytest.raises(traitlets.TraitError, match="not a convolution"):
        f.layer = "relu_conv1"
    assert f.layer == "conv1"


def test_conv_module_follows_the_layers_filters_field(tiny):
    assert conv_module(tiny, "0")[0] == "0" and conv_module(tiny, "3")[0] == "3"
    with pytest.raises(NotAConvError):
        conv_module(tiny, "2")

    # A name table may point a conv name at the batch norm inside BasicConv2d (GoogLeNet's
    # MATLAB names): LayerInfo.filters names the conv that holds the filters.
    class BasicConv2d(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, bias=False)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.bn(self.conv(x)))

    model = nn.Sequential()
    model.add_module("conv1", BasicConv2d())
    net = aw.Network.wrap(model, input_size=16)
    native = net.layers.get("conv1.bn")
    as_conv = LayerInfo(**{**native.__dict__, "name": "conv1-7x7_s2", "kind": "conv",
                           "filters": "conv1.conv"})
    name, conv = conv_module(net, as_conv)
    assert name == "conv1.conv" and conv is model.conv1.conv
    with pytest.raises(NotAConvError):
        conv_module(net, native)  # a plain batch norm has no filters


def test_filter_explorer_on_googlenets_matlab_names():
    net = aw.load_model("googlenet", weights=None)
    f = FilterExplorer(net, "conv1-7x7_s2", filter=33, input_channel=1)
    assert conv_module(net, "conv1-7x7_s2")[0] == "conv1.conv"
    assert f.weights.shape == (64, 3, 7, 7) and f.error == ""
    assert "conv1-7x7_s2" in [value for _, value in f.controls["layer"].options]
