"""ChannelView (an anywidget drawn by ``channelview.js``): the atlas' top patches sent as raw
RGB bytes, the feature visualisation on demand in the background (progress, stop), the
activation on an image sent as 8-bit levels; following an explorer's clicks. Driven through its
traits and what its page sends (``set_state``, custom messages), as the page would."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import traitlets
from test_widgets_featurevis import TIMEOUT, Gate, wait_for
from torch import nn

import actwidgets as aw
from actwidgets.widgets import channel


@pytest.fixture(scope="module")
def setup():
    net = aw.load_model("squeezenet", weights=None)
    photos = [aw.sample_image(n) for n in ("face", "cat", "coffee", "face_eye_closed")]
    atlas = aw.channel_atlas(net, photos, ["conv1", "fire2-squeeze1x1"], top=3, progress=False)
    return net, photos, atlas


def patches_sent(view) -> list[np.ndarray]:
    """The patches as the page reads them: ``_patches`` cut by the sizes in ``_panel``."""
    data, out, offset = np.frombuffer(view._patches, np.uint8), [], 0
    for p in view._panel["patches"]:
        n = p["h"] * p["w"] * 3
        out.append(data[offset:offset + n].reshape(p["h"], p["w"], 3))
        offset += n
    assert offset == len(data)
    return out


def test_the_patches_are_the_atlas_top_entries_sent_as_rgb_bytes(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="fire2-squeeze1x1", channel=7)
    expected = atlas.top("fire2-squeeze1x1", 7, view.stage)
    assert [e.index for e in view.entries] == [e.index for e in expected]
    assert [p["index"] for p in view._panel["patches"]] == [e.index for e in expected]
    for sent, entry in zip(patches_sent(view), expected, strict=True):  # the pixels of each patch
        np.testing.assert_array_equal(sent, atlas.patch(entry, photos))
    assert view.png[:4] == b"\x89PNG" and view.error == ""
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(view.png)).width >= 3 * 96  # three patches side by side
    before, png = view._patches, view.png
    view.channel = 8
    assert view._patches != before and view.png != png
    assert [e.index for e in view.entries] == [e.index for e in atlas.top("fire2-squeeze1x1", 8, view.stage)]
    assert view._panel["channel"] == 8 and view._panel["layer"] == "fire2-squeeze1x1"


def test_large_patches_are_shrunk_to_the_square_before_they_are_sent():
    big = np.random.default_rng(0).integers(0, 255, (150, 200, 3), np.uint8)
    fitted = channel._fit(big)
    assert fitted.shape == (72, 96, 3)  # aspect kept, the longer side = 96
    small = np.full((4, 3, 3), 7, np.uint8)
    assert channel._fit(small).shape == (4, 3, 3)  # the page grows it by whole pixels
    square = channel._square(small)
    assert square.shape == (96, 96, 3) and (square == 7).sum() == 3 * 96 * 72  # 24x: 96 × 72 px


def test_a_layer_off_the_atlas_says_so_and_the_rest_works(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="fire3-squeeze1x1", channel=2)
    assert view.entries == [] and view.png == b"" and view._patches == b"" and view.error == ""
    assert view._panel["patches"] == [] and view._panel["atlas"] == ["conv1", "fire2-squeeze1x1"]
    assert "image/png" not in view._repr_mimebundle_()[0]  # no empty picture for static pages
    with pytest.raises(traitlets.TraitError, match="out of range"):
        view.channel = 999
    view.set_state({"channel": 999})  # from the page: said there, and the page snaps back
    assert "out of range" in view.error and view._message == view.error and view.channel == 2
    view.set_state({"channel": 5})
    assert view.error == "" and view._panel["channel"] == 5


def test_the_mimebundle_has_the_patches_for_static_renderers(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="conv1", channel=1)
    import base64

    data = view._repr_mimebundle_()[0]
    assert base64.b64decode(data["image/png"]) == view.png
    assert "application/vnd.jupyter.widget-view+json" in data


def test_it_follows_an_explorer_and_its_clicks(setup):
    net, photos, atlas = setup
    explorer = aw.ActivationExplorer(net, layer="conv1")
    view = aw.ChannelView(net, atlas, photos).follow(explorer)
    explorer.channel = 12
    assert (view.layer, view.channel) == ("conv1", 12) and view._panel["channel"] == 12
    explorer.set_state({"channel": 30})  # a click on tile 30 in the explorer's page
    assert view.channel == 30 and view._panel["channel"] == 30
    top = atlas.top("conv1", 30, view.stage)
    assert [p["index"] for p in view._panel["patches"]] == [e.index for e in top]
    explorer.layer = "fire2-squeeze1x1"
    assert view.layer == "fire2-squeeze1x1" and view._panel["layer"] == "fire2-squeeze1x1"


def test_following_a_layer_without_stages_and_back(setup):
    """A stage is checked with its layer: the view takes layer and stage together, so a
    stage-less pool and back to a conv at "pre" never meet a stage the layer lacks."""
    net, photos, atlas = setup
    explorer = aw.ActivationExplorer(net, layer="conv1", stage="pre")
    view = aw.ChannelView(net, atlas, photos).follow(explorer)
    for layer, stage in [("pool1", "post"), ("conv1", "pre"), ("pool1", "post"), ("relu_conv1", "post")]:
        explorer.layer = layer
        assert (explorer.stage, view.layer, view.stage) == (stage, layer, stage) and view.error == ""
    explorer.layer, explorer.stage = "conv1", "post"
    assert (view.layer, view.stage) == ("conv1", "post") and view.error == ""
    with pytest.raises(traitlets.TraitError, match="ChannelView.stage: 'pool1' has no activation"):
        view.layer, view.stage = "pool1", "pre"


def test_the_activation_is_sent_as_levels_at_the_layers_size(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="conv1", channel=3, image="cat")
    ch = aw.ActivationExplorer(net, layer="conv1", stage=view.stage, image="cat").activations[3]
    levels = np.frombuffer(view._act, np.uint8).reshape(view._panel["act"]["h"], view._panel["act"]["w"])
    assert levels.shape == ch.shape and levels.min() == 0 and levels.max() == 255
    np.testing.assert_array_equal(levels, np.round((ch - ch.min()) / (ch.max() - ch.min()) * 255))
    assert view._panel["act"]["max"] == aw.pixels.fmt(float(ch.max()))
    assert view._picture == view._shelf.picture("cat").tobytes()  # the page's background
    picture, act = view._picture, view._act
    sent = []  # what the kernel sends: a trait change is a message to the page
    view.observe(lambda change: sent.append(change.name), ["_picture", "_patches", "_act", "_panel"])
    view.image = "coffee"
    assert view._act != act and view._picture != picture and view._panel["image"] == "coffee"
    assert sorted(sent) == ["_act", "_panel", "_picture"]  # the patches stay: same channel
    sent.clear()
    view.channel = 4
    assert sorted(sent) == ["_act", "_panel", "_patches"]  # the image's pixels are not sent again
    assert view.activation.shape == (*net.input_size, 3)
    with pytest.raises(traitlets.TraitError, match="no image named"):
        view.image = "nope"


def test_the_feature_visualisation_is_drawn_on_demand(setup, monkeypatch):
    net, photos, atlas = setup
    monkeypatch.setattr(channel, "FV_STEPS", 2)
    monkeypatch.setattr(channel, "FV_SIZE", 32)
    view = aw.ChannelView(net, atlas, photos, layer="conv1", channel=3)
    assert view._fv_picture == b"" and view._panel["fv"] is None
    view.visualise(wait=True)
    expected = aw.visualize_channels(net, "conv1", [3], stage=view.stage, method="regularized", steps=2,
                                     size=32, seed=0, progress=False)
    assert view._panel["fv"] == {"side": 32, "done": 2, "steps": 2}
    assert view._fv_picture == aw.pixels.to_uint8(expected[0]).tobytes()
    assert view._fv_run["running"] is False and view._fv_run["done"] == 2
    view.channel = 4  # another channel: not drawn yet
    assert view._fv_picture == b"" and view._panel["fv"] is None
    view.channel = 3  # kept
    assert len(view._fv_picture) == 32 * 32 * 3


@pytest.fixture()
def gated_view():
    """A tiny network behind a Gate, an atlas of it, and a view; a run left going is stopped."""
    torch.manual_seed(0)
    gate = Gate(pause_at=10**9)
    model = nn.Sequential(gate, nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 4, 3, padding=1), nn.ReLU())
    net = aw.Network.wrap(model, input_size=32, name="gated", backend="hooks")
    photos = [np.full((32, 32, 3), v, np.uint8) for v in (10, 120, 200)]
    atlas = aw.channel_atlas(net, photos, "2", top=2, progress=False)
    view = aw.ChannelView(net, atlas, photos, layer="2", channel=1)
    yield view, gate
    gate.resume.set()
    view.stop()
    if view._run is not None:
        view._run.ended.wait(TIMEOUT)


def test_the_page_starts_and_stops_a_background_drawing(gated_view, monkeypatch):
    view, gate = gated_view
    monkeypatch.setattr(channel, "FV_STEPS", 2048)
    gate.pause_at = 6  # the run's 6th forward pass waits for the test
    runs = []
    view.observe(lambda change: runs.append(dict(change.new)), "_fv_run")
    view._handle_custom_msg({"event": "visualise"}, [])  # the page's visualise button
    wait_for(gate.paused, "the drawing's 6th step")
    assert view._fv_run["running"] and view._fv_run["total"] == 2048
    assert view._fv_run["key"] == ["2", "post", 1]
    view._handle_custom_msg({"event": "visualise"}, [])  # a second press: refused, said
    assert "being drawn" in view.error and view._fv_run["running"]
    view._handle_custom_msg({"event": "stop"}, [])  # the page's stop button
    assert view._fv_run["stopping"]
    gate.resume.set()
    assert view._run.ended.wait(TIMEOUT)
    assert runs[-1]["running"] is False and any(r["done"] > 0 for r in runs)
    fv = view._panel["fv"]
    assert fv["steps"] == 2048 and 0 < fv["done"] < 2048  # stopped: the picture so far is kept
    assert len(view._fv_picture) == fv["side"] ** 2 * 3
    assert view.stop() is False  # nothing left to stop


def test_an_error_during_the_drawing_is_said_and_the_view_works_on(gated_view, monkeypatch):
    view, _ = gated_view
    monkeypatch.setattr(channel, "FV_STEPS", 2)
    ended = threading.Event()
    view.observe(lambda change: change.new["running"] or ended.set(), "_fv_run")
    monkeypatch.setattr(channel, "FV_SIZE", 4)  # too small for the network: visualize_channels refuses
    view._handle_custom_msg({"event": "visualise"}, [])
    wait_for(ended, "the failed drawing's end")
    assert view.error.startswith("visualise: ") and view._panel["fv"] is None
    view.channel = 0
    assert view.error == "" and view._panel["channel"] == 0
