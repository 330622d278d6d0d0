"""One reading of ``layer`` and ``stage`` (``net.layers.select``) behind every entry point:
each accepted form, the same sentence for the same bad argument everywhere, and stage=None
meaning each layer's default stage in activations, channel_atlas and export_html alike."""

from __future__ import annotations

import re
from collections import OrderedDict

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

import actwidgets as aw
from actwidgets.__main__ import main as cli
from actwidgets.explorer_state import ExplorerState, image_names
from actwidgets.export import chosen_layers
from actwidgets.export import data as export_data
from actwidgets.model.selection import parse_stage, stage_argument


@pytest.fixture(scope="module")
def tiny():
    """conv (2 channels: x and -x of the red plane) → ReLU inside a block, then a 2×2 max pool."""
    conv = nn.Conv2d(3, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0], conv.weight[1, 0] = 1.0, -1.0
    model = nn.Sequential(OrderedDict(block=nn.Sequential(conv, nn.ReLU()), pool=nn.MaxPool2d(2)))
    net = aw.Network.wrap(model, input_size=4, name="tiny")
    net.preprocess = aw.Preprocess(4, None, (0.0,) * 3, (1.0,) * 3)  # the input is pixel / 255
    return net


@pytest.fixture(scope="module")
def squeezenet():
    return aw.load_model("squeezenet", weights=None)


RED = np.zeros((4, 4, 3), np.uint8)
RED[..., 0] = np.arange(16, dtype=np.uint8).reshape(4, 4) * 17  # 0, 17, ..., 255: x = i/15


# ------------------------------------------------------------------ accepted forms


def test_every_form_of_a_layer_names_the_same_layer(tiny):
    layers = tiny.layers
    assert layers.names == ["block.0", "block.1", "pool"]
    pool = layers[2]
    for form in ("pool", 2, -1, np.int64(2), np.int32(-1), pool, [pool], ("pool",), np.array([2])):
        assert layers.select(form).layers == (pool,), form
    assert layers.select("block").layers == (layers[1],)  # a container: its output, the ReLU
    sel = layers.select(["block.0", -1, "pool", 2])       # each layer once, in the order asked
    assert [info.name for info in sel.layers] == ["block.0", "pool"] and not sel.single
    assert layers.select("pool").single and not layers.select(["pool"]).single
    assert layers.select(layers).layers == tuple(layers)  # any iterable: the catalogue itself


def test_values_follow_the_selection_by_hand(tiny):
    x = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    relu = np.stack([x, np.zeros_like(x)])
    pooled = relu.reshape(2, 2, 2, 2, 2).max(axis=(2, 4))
    np.testing.assert_allclose(aw.activations(tiny, RED, 0, "pre"), np.stack([x, -x]), atol=1e-6)
    np.testing.assert_allclose(aw.activations(tiny, RED, np.int64(0), "post"), relu, atol=1e-6)
    np.testing.assert_allclose(aw.activations(tiny, RED, -1), pooled, atol=1e-6)
    both = aw.activations(tiny, RED, "pool", stage="both")  # one value, as both stages, two arrays
    np.testing.assert_array_equal(both["pre"], both["post"])
    assert both["pre"] is not both["post"]
    many = aw.activations(tiny, RED, [tiny.layers[0], "pool"], stage="both")
    assert list(many) == ["block.0", "pool"]
    np.testing.assert_allclose(many["block.0"]["post"], relu, atol=1e-6)


def test_squeezenet_names_nodes_containers_and_blocks(squeezenet):
    layers = squeezenet.layers
    squeeze = layers.get("fire6-squeeze1x1")
    assert layers.select(squeeze.native).layers == (squeeze,)           # torchvision's node name
    assert layers.select("features.9").layers[0].name == "fire6-concat"  # the Fire module's output
    block = layers.select("fire6")
    assert [info.name for info in block.layers] == [info.name for info in layers if info.group == "fire6"]
    assert len(block.layers) == 7 and not block.single
    assert [info.name for info in layers.select("conv1").layers] == ["conv1"]  # a layer wins over its block
    acts = aw.activations(squeezenet, "face", "fire6")
    assert list(acts) == list(block.keys)
    assert chosen_layers(squeezenet, "fire6") == list(block.layers)
    page = aw.static_explorer(squeezenet, "face", "fire6", layer="fire6-squeeze1x1")
    assert page.n_layers == 7


def test_resolved_stages(squeezenet):
    layers = squeezenet.layers
    sel = layers.select(["conv1", "relu_conv1", "pool1"])  # None: each layer's default
    assert sel.stages == (("pre",), ("post",), ("post",))
    assert layers.select(["conv1", "pool1"], "both").stages == (("pre", "post"), ("pre", "post"))
    assert layers.get("pool1").stages == ("post",) and layers.get("conv1").stages == ("pre", "post")
    assert layers.select("pool1", "post").points() == [layers.get("pool1").post]


def test_parse_stage_for_widgets():
    assert [parse_stage(s) for s in ("pre", "post", "both", None)] == ["pre", "post", "both", None]
    with pytest.raises(ValueError, match='stage="both" does not fit ChannelView.stage'):
        parse_stage("both", both=False, what="ChannelView.stage")
    for bad in ("PRE", 1, ""):
        with pytest.raises(ValueError, match=r'stage must be "pre", "post", "both" or None, got'):
            parse_stage(bad)


def test_stage_argument_inverts_the_stages_read():
    assert stage_argument([(("pre", "post"), "pre")]) == "both"
    assert stage_argument([(("post",), "post"), (("post",), "pre")]) == "post"
    assert stage_argument([(("pre",), "pre"), (("post",), "post")]) is None


# ------------------------------------------------------------------ one sentence everywhere


def _sentence(call) -> str:
    with pytest.raises((KeyError, ValueError, IndexError, TypeError)) as err:
        call()
    return str(err.value)


def _cli(capsys, *args: str) -> str:
    assert cli(["squeezenet", "--random-weights", "--out", "/tmp/actwidgets-selection.png", *args]) == 2
    return capsys.readouterr().err


BAD = {
    "unknown name": ("fire66", None, "no layer named 'fire66'. Closest: fire6"),
    "index out of range": (99, None, "layer index 99 is out of range: there are 64 layers"),
    "bad stage": ("conv1", "middle", 'stage must be "pre", "post", "both" or None, got \'middle\''),
    "pre on a pool": ("pool1", "pre", "'pool1' has no activation right after it"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_the_same_bad_argument_gets_the_same_sentence_everywhere(squeezenet, capsys, tmp_path, case):
    layer, stage, start = BAD[case]
    net = squeezenet
    expected = _sentence(lambda: net.layers.select(layer, stage))
    assert start in expected
    got = {
        "activations": _sentence(lambda: aw.activations(net, "face", layer, stage)),
        "channel_atlas": _sentence(
            lambda: aw.channel_atlas(net, ["face"], layer, stage=stage, progress=False)),
        "visualize_channels": _sentence(lambda: aw.visualize_channels(net, layer, 0, stage=stage, steps=1)),
        "deep_dream": _sentence(lambda: aw.deep_dream(net, "face", layer, stage=stage, steps=1)),
        "resolve": _sentence(lambda: net.layers.resolve(layer, stage)),
        "export_html": _sentence(lambda: aw.export_html(net, "face", ["conv1", "pool1"], tmp_path / "x.html",
                                                        layer=layer, stage=stage, verbose=False)),
    }
    if stage is None:  # the exported layers themselves
        got["static_explorer layers"] = _sentence(lambda: aw.static_explorer(net, "face", layer))
    assert got == {k: expected for k in got}
    if case != "bad stage":  # argparse's choices refuse "middle" before the network loads
        args = ["--layer", str(layer)] + (["--stage", stage] if stage else [])
        assert expected in _cli(capsys, *args)


def test_several_layers_where_one_is_shown(squeezenet, capsys):
    sentence = _sentence(lambda: aw.visualize_channels(squeezenet, "fire6", 0, steps=1))
    assert sentence.startswith("visualize_channels takes one layer; this names 7 layers (fire6-squeeze1x1")
    assert "the command line takes one layer; this names 7 layers" in _cli(capsys, "--layer", "fire6")
    assert "does not fit visualize_channels" in _sentence(
        lambda: aw.visualize_channels(squeezenet, "conv1", 0, stage="both", steps=1))
    assert "the page's first state takes one layer; this names 7" in _sentence(
        lambda: aw.static_explorer(squeezenet, "face", "fire6", layer="fire6"))
    assert "does not fit the page's first state" in _sentence(
        lambda: aw.static_explorer(squeezenet, "face", "fire6", layer="fire6-concat", stage="both"))


# ------------------------------------------------------------------ stage=None


def test_stage_none_is_each_layer_s_default_everywhere(squeezenet):
    net, names = squeezenet, ["conv1", "relu_conv1", "pool1"]
    defaults = {n: net.layers.get(n).default_stage for n in names}
    assert defaults == {"conv1": "pre", "relu_conv1": "post", "pool1": "post"}  # MATLAB's names
    for n in names:
        np.testing.assert_array_equal(aw.activations(net, "face", n),
                                      aw.activations(net, "face", n, defaults[n]))
    images = [aw.sample_image("face"), aw.sample_image("cat")]
    atlas = aw.channel_atlas(net, images, names, top=2, stage=None, progress=False)
    assert [list(s.points) for s in atlas.meta.layers] == [["pre"], ["post"], ["post"]]
    for n in names:
        assert {e.stage for e in atlas.top(n, 0)} == {defaults[n]}
        assert atlas.top(n, 0) == atlas.top(n, 0, stage=defaults[n])
    with pytest.raises(ValueError, match="'pre' was not scanned for 'relu_conv1'"):
        atlas.top("relu_conv1", 0, stage="pre")
    assert atlas.resume(net, images).meta.layers == atlas.meta.layers  # the stage argument inverted
    both = aw.channel_atlas(net, images, names, top=2, progress=False)
    with pytest.raises(ValueError, match="'pool1' has no activation right after it"):
        both.top("pool1", 0, stage="pre")
    for n in names:
        page = aw.static_explorer(net, "face", names, layer=n)
        initial = page.html.split('"initial":', 1)[1]
        assert initial.startswith(f'{{"image":"face","layer":"{n}","stage":"{defaults[n]}"')


# ------------------------------------------------------------------ the widgets


@pytest.fixture(scope="module")
def widgets_of(squeezenet):
    """An ActivationExplorer, a CompareExplorer, a ChannelView and a FeatureVisualizer of
    SqueezeNet."""
    pytest.importorskip("anywidget")
    atlas = aw.channel_atlas(squeezenet, ["face"], ["conv1", "pool1"], top=1, progress=False)
    return {"ActivationExplorer": aw.ActivationExplorer(squeezenet),
            "CompareExplorer": aw.CompareExplorer(squeezenet, "face", "cat", layer="conv1"),
            "ChannelView": aw.ChannelView(squeezenet, atlas, layer="conv1"),
            "FeatureVisualizer": aw.FeatureVisualizer(squeezenet, layer="conv1")}


def _trait_sentence(widget, **values) -> str:
    with pytest.raises(traitlets.TraitError) as err, widget.hold_sync():
        for name, value in values.items():
            setattr(widget, name, value)
    return str(err.value)


@pytest.mark.parametrize("case", list(BAD))
def test_the_widgets_give_the_same_sentence_as_activations(squeezenet, widgets_of, case):
    layer, stage, _ = BAD[case]
    expected = _sentence(lambda: aw.activations(squeezenet, "face", layer, stage))
    for owner, widget in widgets_of.items():
        if stage is None:  # a bad layer: refused, and the widget shows what it showed
            before = widget.layer
            assert _trait_sentence(widget, layer=layer) == f"{owner}.layer: {expected}"
            assert widget.layer == before
        elif owner != "FeatureVisualizer":  # a bad stage, or one the layer does not have
            widget.layer = layer
            assert _trait_sentence(widget, stage=stage) == f"{owner}.stage: {expected}"
            assert widget.stage == squeezenet.layers.get(layer).default_stage
            widget.layer = "conv1"
    # The constructor reads its arguments the same way.
    assert _sentence(lambda: aw.ActivationExplorer(squeezenet, layer=layer, stage=stage)) == expected
    if stage is None:
        with pytest.raises(traitlets.TraitError, match=re.escape(expected)):
            aw.FeatureVisualizer(squeezenet, layer=layer)


def test_a_widget_takes_a_layer_as_activations_does(squeezenet, widgets_of):
    explorer, view = widgets_of["ActivationExplorer"], widgets_of["ChannelView"]
    explorer.layer, view.layer = -1, np.int64(2)  # an index, from the end too
    assert (explorer.layer, view.layer) == ("pool10", "pool1")
    explorer.layer = "features.3.squeeze"  # a node name: the listed layer
    assert explorer.layer == "fire2-squeeze1x1"
    sentence = _trait_sentence(explorer, layer="fire6")
    assert "ActivationExplorer takes one layer; this names 7 layers" in sentence
    assert 'stage="both" does not fit ChannelView' in _trait_sentence(view, stage="both")
    view.layer, view.stage = "conv1", None  # None: the layer's default
    assert view.stage == "pre"
    explorer.layer = "conv1"


def test_a_stage_the_layer_lacks_from_the_page_shows_and_rolls_back(squeezenet, widgets_of):
    explorer = widgets_of["ActivationExplorer"]
    explorer.layer = "pool1"
    explorer.set_state({"stage": "pre"})  # what the page sends
    assert explorer.stage == "post"
    assert explorer.error == "ActivationExplorer.stage: " + _sentence(
        lambda: aw.activations(squeezenet, "face", "pool1", "pre"))
    explorer.layer = "conv1"


# ------------------------------------------------------------------ one explorer state, one naming rule


def test_one_explorer_state_for_the_widget_and_the_page(squeezenet, widgets_of, tmp_path):
    net = squeezenet
    state = ExplorerState(layer=-1, channel=7, view="channel", cmap="hot")
    assert ExplorerState.of(state, contrast="stretch") == ExplorerState(
        layer=-1, channel=7, view="channel", cmap="hot", contrast="stretch")
    assert ExplorerState.of(None, channel=7) == ExplorerState(channel=7) and ExplorerState.of(state) == state
    shown = aw.ActivationExplorer(net, state=state).state
    assert shown == ExplorerState("face", "pool10", "post", 7, "channel", "hot", "minmax")
    assert shown == state.resolved(net, images=["face"])
    by_state = aw.static_explorer(net, "face", ["conv1", "pool10"], state=state).html
    by_keywords = aw.static_explorer(net, "face", ["conv1", "pool10"], layer=-1, channel=7, view="channel",
                                     cmap="hot").html
    assert by_state == by_keywords
    assert '"initial":{"image":"face","layer":"pool10","stage":"post","channel":7' in by_state
    explorer = widgets_of["ActivationExplorer"]
    explorer.state = ExplorerState(layer="fire2-squeeze1x1", stage="post", channel=3)
    assert (explorer.layer, explorer.stage, explorer.channel) == ("fire2-squeeze1x1", "post", 3)
    for bad, match in [({"view": "tiles"}, "view must be one of"), ({"channel": -1}, "whole number"),
                       ({"contrast": "loud"}, "contrast must be one of"),
                       ({"stage": "mid"}, "stage must be")]:
        with pytest.raises(ValueError, match=match):
            ExplorerState(**bad)
    with pytest.raises(ValueError, match="channel 99 is out of range: 'conv1' has channels 0..63"):
        explorer.state = ExplorerState(layer="conv1", channel=99)
    assert explorer.state.layer == "fire2-squeeze1x1"  # refused as a whole: nothing changed
    explorer.layer = "conv1"


def test_one_image_naming_rule(squeezenet, tmp_path):
    face = squeezenet.image(aw.sample_image("face"))
    path = tmp_path / "photo.png"
    Image.fromarray(face).save(path)
    given = ["cat", "cat", str(path), face]
    names = ["cat", "cat (2)", "photo.png", "image 4"]
    assert [n for n, _ in image_names(given)] == names
    assert list(export_data.select(squeezenet, given, "conv1").images) == names
    assert aw.ActivationExplorer(squeezenet, given)._shelf.names[:4] == names
    one = list(export_data.select(squeezenet, face, "conv1").images)
    assert [n for n, _ in image_names(face)] == ["image 1"] == one
    assert [n for n, _ in image_names({"a": face, "b": face})] == ["a", "b"]
