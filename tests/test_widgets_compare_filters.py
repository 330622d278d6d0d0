"""CompareExplorer and FilterExplorer, headless (helpers and fixtures: ``test_widgets.py``).

Both are anywidgets whose pages draw: the tests set traits, send what the page sends
(:func:`page_sets`), and check the state, the values, what the page is sent once per layer
(``_layer`` and the binary ``_levels`` / ``_data``: decoded here as the page decodes them) and
the pictures drawn in Python (``pngs``). The pages' pictures against Python's, in Chromium:
``e2e/test_browser.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets
from test_widgets import page_sets, png_of, random_squeezenet, tiny  # noqa: F401 - fixtures
from torch import nn

import actwidgets as aw
from actwidgets import pixels
from actwidgets.model.layers import LayerInfo
from actwidgets.widgets import CompareExplorer, FilterExplorer
from actwidgets.widgets.compare import LEVELS, compare_tables
from actwidgets.widgets.filters import NotAConvError, conv_module

# --------------------------------------------------------------------------- CompareExplorer


def sent(c: CompareExplorer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the page reads from ``_levels``: A's and B's (C, h, w) levels, the (C, 5) table."""
    shape, data = c._layer["shape"], bytes(c._levels)
    n = int(np.prod(shape))
    a = np.frombuffer(data, "<u2", n).reshape(shape)
    b = np.frombuffer(data, "<u2", n, 2 * n).reshape(shape)
    return a, b, np.frombuffer(data, "<f4", 5 * shape[0], 4 * n).reshape(-1, 5)


def page_maps(c: CompareExplorer) -> list[np.ndarray]:
    """The three maps as compare.js computes them from what it was sent (in numpy): the levels
    resized, then scaled to 8 bits; B − A from the difference of the levels."""
    a, b, table = sent(c)
    ch, size = c.channel, c.net.input_size
    lo, hi, slo, shi, peak = (float(v) for v in table[ch])
    unit = (hi - lo) / LEVELS
    out = []
    for x in (a[ch], b[ch]):
        big = pixels.resize(x.astype(np.float32), size).astype(np.float64)
        v = (lo + big * unit - slo) / (shi - slo) if c.contrast == "stretch" else big / LEVELS
        out.append(pixels.to_levels(np.clip(v, 0, 1)))
    d = pixels.resize(b[ch].astype(np.float32) - a[ch].astype(np.float32), size).astype(np.float64)
    out.append(pixels.to_levels(d * (unit * 0.5 / peak) + 0.5 if peak > 0 else np.full(d.shape, 0.5)))
    return out


def test_compare_same_image_has_zero_difference(random_squeezenet):
    face = aw.sample_image("face")
    c = CompareExplorer(random_squeezenet, face, face.copy(), layer="fire6-relu_squeeze1x1")
    assert c.max_abs_difference == 0.0
    assert not np.any(c.difference)
    a, b = c.pngs[:2]
    assert a == b  # one scale for both: the same map gives the same picture
    assert "max |Δ| 0" in c.stats
    levels_a, levels_b, table = sent(c)
    np.testing.assert_array_equal(levels_a, levels_b)  # the page's difference is 0 too
    assert not np.any(table[:, 4])  # every channel's max |B − A|
    diff = np.asarray(png_of(c.pngs[2]).convert("RGB"))
    assert len(np.unique(diff.reshape(-1, 3), axis=0)) == 1  # the middle of RdBu_r everywhere


def test_compare_open_and_closed_eye(random_squeezenet):
    c = CompareExplorer(
        random_squeezenet, aw.sample_image("face"), aw.sample_image("face_eye_closed"),
        labels=("open", "closed"), layer="fire6-relu_squeeze1x1", channel=13,
    )
    a, b = c.activations
    before = c.pngs
    largest = int(np.argmax(np.abs(b - a).reshape(len(a), -1).max(axis=1)))
    assert c.select_largest_difference() == largest == c.channel
    assert int(np.argmax(sent(c)[2][:, 4])) == largest  # what the page's button picks
    assert c.error == "" and c.pngs != before
    assert c.max_abs_difference > 0
    np.testing.assert_array_equal(c.difference, b[c.channel] - a[c.channel])
    assert len(set(c.pngs)) == 3
    assert "one scale for both" in c.stats and "open" in c.stats
    assert c._meta["images"] == ["open", "closed"] and "RdBu_r" in c._meta["cmaps"]
    # The page's layer picker: the stage follows the layer, the channel is clamped.
    page_sets(c, layer="pool1", stage="post", channel=13)
    assert (c.layer, c.stage, c.channel, c.error) == ("pool1", "post", 13, "")
    assert c._layer["shape"] == [64, 56, 56] and c._layer["layer"] == "pool1"
    assert len(repr(c)) < 200 and repr(c).startswith("CompareExplorer(squeezenet, labels=('open', 'closed')")


def test_compare_sends_a_layer_once_and_flips_in_the_page(random_squeezenet):
    c = CompareExplorer(random_squeezenet, "face", "face_eye_closed", layer="fire6-squeeze1x1")
    serial, shape = c._layer["serial"], c._layer["shape"]
    assert shape == [48, 14, 14]
    assert len(c._levels) == 2 * 2 * 48 * 14 * 14 + 5 * 4 * 48  # 16-bit levels of both, 5 numbers a channel
    for change in ({"channel": 7}, {"cmap": "viridis"}, {"contrast": "stretch"}):
        page_sets(c, **change)
        assert c._layer["serial"] == serial  # drawn in the page: nothing sent
    assert (c.channel, c.cmap, c.contrast) == (7, "viridis", "stretch")
    page_sets(c, stage="post")
    assert c._layer["serial"] > serial and c._layer["stage"] == "post"
    # A bad value from the page: the message shows, the state stays.
    page_sets(c, channel=48)
    assert "0..47" in c._message and c.channel == 7
    c.cmap = "plasma"  # not offered: its colour table is sent
    assert "plasma" in c._meta["cmaps"] and c._message == ""


@pytest.mark.parametrize("contrast", ["minmax", "stretch"])
def test_what_the_page_is_sent_draws_pythons_pictures_within_a_level(random_squeezenet, contrast):
    c = CompareExplorer(random_squeezenet, "face", "face_eye_closed", layer="fire6-relu_squeeze1x1",
                        contrast=contrast)
    a, b = c.activations
    for channel in (5, c.select_largest_difference()):
        c.channel = channel
        limits, peak = c._tables().scale(channel, contrast), float(c._tables().peak[channel])
        big = pixels.resize(b[channel] - a[channel], c.net.input_size)
        want = [pixels.render_channel(x[channel], size=c.net.input_size, limits=limits).index for x in (a, b)]
        want.append(pixels.to_levels(big * np.float32(0.5 / peak) + np.float32(0.5)))  # pixels.diverging's
        for k, got in enumerate(page_maps(c)):
            gap = int(np.abs(got.astype(int) - want[k]).max())
            assert gap <= 1, f"picture {k} of channel {channel}: {gap} levels apart"


def test_compare_limits_are_both_images_together():
    a = np.zeros((1, 2, 2), np.float32)
    b = np.array([[[1.0, 2.0], [3.0, 4.0]]], np.float32)
    t = compare_tables(a, b)
    assert t.limits.tolist() == [[0.0, 4.0]] and float(t.peak[0]) == 4.0
    np.testing.assert_array_equal(t.levels[1][0], np.round(b[0] / 4 * LEVELS))
    assert t.stats[0].tolist() == [0.0, 0.0, 4.0, 2.5]  # max and mean of A, of B
    lo, hi = t.scale(0, "stretch")
    np.testing.assert_allclose([lo, hi], np.quantile(np.r_[a.ravel(), b.ravel()], [0.01, 0.99]))
    same = compare_tables(b, b)
    assert float(same.peak[0]) == 0.0
    flat = compare_tables(np.ones((1, 2, 2), np.float32), np.ones((1, 2, 2), np.float32))
    assert flat.limits.tolist() == [[1.0, 2.0]]  # a constant map: a span of 1, drawn at the lowest colour


def test_compare_same_limits_for_both(tiny):
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 200, np.uint8)
    c = CompareExplorer(tiny, a, b, layer="0")
    # Different inputs give different constant maps; one shared scale shows them differently.
    pa, pb = (np.asarray(png_of(p).convert("RGB")) for p in c.pngs[:2])
    assert not np.array_equal(pa, pb)
    page_sets(c, contrast="stretch")
    assert c.contrast == "stretch" and c.error == ""
    with pytest.raises(ValueError, match="two names"):
        CompareExplorer(tiny, a, b, labels=("one",))


# --------------------------------------------------------------------------- FilterExplorer


def filters_sent(f: FilterExplorer) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """What the page reads from ``_data``: the tiles' RGB, the weights, the bias."""
    m, data = f._layer, bytes(f._data)
    th, tw, _ = m["tiles"]
    nt, nw = th * tw * 3, int(np.prod(m["shape"]))
    rgb = np.frombuffer(data, np.uint8, nt).reshape(th, tw, 3)
    w = np.frombuffer(data, "<f4", nw, nt).reshape(m["shape"])
    bias = np.frombuffer(data, "<f4", m["shape"][0], nt + 4 * nw) if m["bias"] else None
    return rgb, w, bias


def test_filter_explorer_on_squeezenet_conv1(random_squeezenet):
    f = FilterExplorer(random_squeezenet, "conv1")
    assert f.weights.shape == (64, 3, 3, 3) and f._layer["shape"] == [64, 3, 3, 3]
    assert conv_module(random_squeezenet, "conv1")[0] == "features.0" == f._layer["conv"]
    rgb, w, bias = filters_sent(f)
    np.testing.assert_array_equal(w, f.weights)
    np.testing.assert_array_equal(bias, f.conv.bias.detach().numpy())
    k = f._layer["tiles"][2]
    sheet = pixels.to_uint8(pixels.filter_tiles(f.weights))
    np.testing.assert_array_equal(pixels.enlarge(rgb, k), sheet.repeat(k, 0).repeat(k, 1))
    pngs = f.pngs
    tiles = np.asarray(png_of(pngs["tiles"]).convert("RGB")).astype(int)
    # First-layer filters are colour pictures: the channels differ.
    assert np.abs(tiles[..., 0] - tiles[..., 1]).max() > 50
    assert png_of(pngs["frequency"]).size[0] >= 64 and png_of(pngs["weights"]).size[0] >= 200
    serial = f._layer["serial"]
    page_sets(f, filter=5)
    assert f.filter == 5 and f._layer["serial"] == serial  # drawn in the page: nothing sent
    assert f.pngs["weights"] != pngs["weights"] and f.pngs["tiles"] != pngs["tiles"]
    page_sets(f, input_channel=1)  # the green channel, as in the GoogLeNet blog
    h = f.frequency_response
    assert h.shape == (64, 64)
    np.testing.assert_allclose(h[32, 32], abs(f.weights[5, 1].sum()), rtol=1e-5)  # DC gain
    assert "input G" in f.captions["frequency"]
    f.input_channel = -1
    assert f.frequency_response.shape == (3, 64, 64)
    with pytest.raises(traitlets.TraitError, match=r"0\.\.2"):
        f.input_channel = 3
    page_sets(f, input_channel=3)  # from the page: a message, the state kept
    assert "0..2" in f._message and f.input_channel == -1
    # Another conv layer from the page: more inputs, sent once.
    page_sets(f, layer="fire9-expand3x3")
    assert f.layer == "fire9-expand3x3" and f.weights.shape == (256, 64, 3, 3)
    assert f._layer["shape"] == [256, 64, 3, 3] and f._layer["serial"] > serial and f.error == ""
    np.testing.assert_array_equal(filters_sent(f)[1], f.weights)
    f.cmap = "plasma"
    assert "plasma" in f._meta["cmaps"] and "features.12.expand3x3" in f.captions["stats"]
    assert len(repr(f)) < 200


def test_filter_layer_change_clamps_the_filter_and_input(random_squeezenet):
    f = FilterExplorer(random_squeezenet, "fire9-expand3x3", filter=200, input_channel=40)
    page_sets(f, layer="conv1")
    assert (f.filter, f.input_channel) == (63, -1)
    assert [layer["name"] for layer in f._meta["layers"]][:2] == ["conv1", "fire2-squeeze1x1"]
    assert "pool1" not in [layer["name"] for layer in f._meta["layers"]]  # only conv layers are offered


def test_filter_explorer_refuses_a_pool_layer(random_squeezenet):
    with pytest.raises(NotAConvError, match="conv1") as info:
        FilterExplorer(random_squeezenet, "pool1")
    assert isinstance(info.value, ValueError) and isinstance(info.value, traitlets.TraitError)
    assert "pool" in str(info.value)
    f = FilterExplorer(random_squeezenet)
    with pytest.raises(traitlets.TraitError, match="not a convolution"):
        f.layer = "relu_conv1"
    assert f.layer == "conv1"
    page_sets(f, layer="pool1")
    assert "not a convolution" in f._message and f.layer == "conv1"


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
    assert conv_module(net, "conv1-7x7_s2")[0] == "conv1.conv" == f._layer["conv"]
    assert f.weights.shape == (64, 3, 7, 7) and f.error == ""
    assert "conv1-7x7_s2" in [layer["name"] for layer in f._meta["layers"]]
    assert not f._layer["bias"] and filters_sent(f)[2] is None  # the conv before a batch norm has none


def test_static_renderers_get_a_picture(random_squeezenet):
    """A notebook converted to HTML shows each widget's picture beside its view."""
    import base64

    c = CompareExplorer(random_squeezenet, "face", "face_eye_closed", layer="fire6-squeeze1x1")
    f = FilterExplorer(random_squeezenet, "conv1", filter=9)
    for widget, size in ((c, (227, 3 * 227 + 16)), (f, png_of(f.pngs["tiles"]).size[::-1])):
        data, _ = widget._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert png_of(base64.b64decode(data["image/png"])).size[::-1] == size
    assert f.png == f.pngs["tiles"]
