"""ChannelView: the atlas' top patches, the feature visualisation on demand, the activation on
an image; following an explorer's clicks."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets

import actwidgets as aw


@pytest.fixture(scope="module")
def setup():
    net = aw.load_model("squeezenet", weights=None)
    photos = [aw.sample_image(n) for n in ("face", "cat", "coffee", "face_eye_closed")]
    atlas = aw.channel_atlas(net, photos, ["conv1", "fire2-squeeze1x1"], top=3, progress=False)
    return net, photos, atlas


def test_the_patches_are_the_atlas_top_entries(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="fire2-squeeze1x1", channel=7)
    expected = atlas.top("fire2-squeeze1x1", 7, view.stage)
    assert [e.index for e in view.entries] == [e.index for e in expected]
    assert view.png[:4] == b"\x89PNG" and view.error == ""
    from PIL import Image
    import io

    shown = Image.open(io.BytesIO(view.png))
    assert shown.width >= 3 * 96  # three patches side by side
    before = view.png
    view.channel = 8
    assert view.png != before and [e.index for e in view.entries] == [
        e.index for e in atlas.top("fire2-squeeze1x1", 8, view.stage)]


def test_a_layer_off_the_atlas_says_so_and_the_rest_works(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="fire3-squeeze1x1", channel=2)
    assert view.entries == [] and view.png == b"" and view.error == ""
    assert "not in the atlas" in view._patch_notes.value
    with pytest.raises(traitlets.TraitError, match="out of range"):
        view.channel = 999


def test_it_follows_an_explorer_and_its_clicks(setup):
    net, photos, atlas = setup
    explorer = aw.ActivationExplorer(net, layer="conv1")
    view = aw.ChannelView(net, atlas, photos).follow(explorer)
    explorer.channel = 12
    assert (view.layer, view.channel) == ("conv1", 12)
    layout = aw.pixels.grid_layout(64, explorer.activations.shape[1:])
    scale = int.from_bytes(explorer.png[16:20], "big") // layout.width
    x0, y0, x1, y1 = layout.box(30)
    explorer.select_tile((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale)  # a click on tile 30
    assert view.channel == 30 and [e.index for e in view.entries] == [
        e.index for e in atlas.top("conv1", 30, view.stage)]
    explorer.layer = "fire2-squeeze1x1"
    assert view.layer == "fire2-squeeze1x1"


def test_the_feature_visualisation_is_drawn_on_demand(setup, monkeypatch):
    net, photos, atlas = setup
    import actwidgets.widgets.channel as channel

    monkeypatch.setattr(channel, "FV_STEPS", 2)
    monkeypatch.setattr(channel, "FV_SIZE", 32)
    view = aw.ChannelView(net, atlas, photos, layer="conv1", channel=3)
    assert view._fv_pic.value == b"" and not view._fv_button.disabled
    view.visualise(wait=True)
    assert view._fv_pic.value[:4] == b"\x89PNG" and view._fv_button.disabled
    view.channel = 4  # another channel: not drawn yet
    assert view._fv_pic.value == b"" and not view._fv_button.disabled
    view.channel = 3  # kept
    assert view._fv_pic.value[:4] == b"\x89PNG"


def test_the_activation_panel_uses_the_picture(setup):
    net, photos, atlas = setup
    view = aw.ChannelView(net, atlas, photos, layer="conv1", channel=3, image="cat")
    cat = view._act_pic.value
    view.image = "coffee"
    assert view._act_pic.value != cat and "coffee" in view._act_note.value
    assert np.isfinite(float(view._act_note.value.split("max ")[1].split(",")[0]))
