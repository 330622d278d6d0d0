"""The widgets, headless: the ActivationExplorer and the state machine all widgets share.

Setting a trait or a control's value runs the observers synchronously, so every interaction
can be checked without a browser. Tests drive the widgets through their traits, their public
``controls`` (setting a control's value is what a person does), for the ActivationExplorer
(an anywidget whose page draws) what its page sends (:func:`page_sets`, :func:`upload`: the
messages ipywidgets hands the widget), and their public state (``png``, ``error``, ``stats``,
``render_guard``) and what the page is sent (``_meta``, ``_layer``, ``_levels``). Behaviour tests run on
SqueezeNet with
random weights or tiny wrapped models, so they pass without ``../shared``; tests about the
trained network are marked ``weights`` (the ``squeezenet`` fixture skips where the file is
missing). The state machine: ``test_widgets_state.py``; the other widgets:
``test_widgets_compare_filters.py``, ``test_widgets_featurevis.py``.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

import actwidgets as aw
from actwidgets import analysis
from actwidgets.widgets import ActivationExplorer, CompareExplorer, FeatureVisualizer, FilterExplorer

# --------------------------------------------------------------------------- helpers


def png_of(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not PNG bytes"
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def upload(widget: widgets.Widget, name: str, content: bytes) -> None:
    """What the page sends when the person picks a file in the upload control."""
    widget._handle_custom_msg({"event": "upload", "name": name}, [memoryview(content)])


def page_sets(widget: widgets.Widget, **state) -> None:
    """What the page sends when the person changes the state (ipywidgets' update message)."""
    widget.set_state(state)


def layer_meta(explorer, name: str) -> dict:
    """What the page is told about layer ``name``."""
    return next(entry for entry in explorer._meta["layers"] if entry["name"] == name)


def encoded(array: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


def texts(widget: widgets.Widget) -> str:
    """All the HTML text a widget shows (what a person reads on the page)."""
    out = [widget.value] if isinstance(widget, widgets.HTML) else []
    for child in getattr(widget, "children", ()):
        out.append(texts(child))
    return "\n".join(out)


class Flaky(nn.Module):
    """Identity until ``broken`` is set; then its forward pass raises."""

    broken = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.broken:
            raise RuntimeError("this layer failed on purpose")
        return x


@pytest.fixture(scope="session")
def random_squeezenet():
    """SqueezeNet with random weights: every widget behaviour, no weights file needed."""
    return aw.load_model("squeezenet", weights=None)


@pytest.fixture(scope="session")
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(),
    )
    return aw.Network.wrap(model, input_size=32, name="tiny")


@pytest.fixture()
def explorer(random_squeezenet):
    return ActivationExplorer(random_squeezenet, layer="conv1")


# --------------------------------------------------------------------------- controls and state


def test_layer_change_clamps_channel_and_sends_the_layer_once(explorer):
    explorer.channel = 60
    sent = []
    explorer.observe(lambda change: sent.append(change.new), "_layer")
    explorer.layer = "fire2-squeeze1x1"  # 16 channels
    assert explorer.channel == 15
    assert explorer.activations.shape == (16, 56, 56)
    assert len(sent) == 1 and sent[0]["layer"] == "fire2-squeeze1x1" and sent[0]["shape"] == [16, 56, 56]
    assert layer_meta(explorer, "fire2-squeeze1x1")["label"] == "fire2-squeeze1x1 · 16 ch · 56×56"
    # Its block is the layer's home group in the page's picker.
    home = explorer._meta["groups"][layer_meta(explorer, "fire2-squeeze1x1")["home"]]
    assert home["label"] == "fire2 (7)"
    # A larger layer keeps the channel.
    explorer.layer = "fire2-concat"
    assert explorer.channel == 15 and len(sent) == 2


def test_the_page_drives_the_state(explorer):
    page_sets(explorer, layer="fire6-relu_squeeze1x1", stage="post", channel=13)
    assert (explorer.layer, explorer.stage, explorer.channel) == ("fire6-relu_squeeze1x1", "post", 13)
    page_sets(explorer, view="channel")
    assert explorer.view == "channel"
    page_sets(explorer, image="cat")
    assert explorer.image == "cat" and explorer.error == "" and explorer._layer["image"] == "cat"
    # A value that fails its check shows in the page's error line; the state stays.
    page_sets(explorer, channel=500)
    assert "0..47" in explorer.error and explorer.channel == 13
    page_sets(explorer, channel=12)
    assert explorer.error == "" and explorer.channel == 12


def test_channel_view_colormap_and_contrast_changes_send_no_pictures(explorer):
    """Only a new image, layer or stage sends data; the page draws everything else."""
    sent = []
    for name in ("_layer", "_levels", "_picture"):
        explorer.observe(lambda change: sent.append(change.name), name)
    for c in range(1, 21):
        page_sets(explorer, channel=c)
    page_sets(explorer, view="channel")
    page_sets(explorer, cmap="viridis")
    page_sets(explorer, contrast="stretch")
    assert sent == [] and explorer.channel == 20
    page_sets(explorer, stage="post")
    assert sent == ["_layer", "_levels"]


def test_the_layer_sent_is_the_exports_data(explorer):
    from actwidgets.export import data as _data
    from actwidgets.export import size as _size

    meta, data = explorer._layer, explorer._levels
    pd = _data.point_data(explorer.activations, ("minmax", "stretch"))
    c, h, w = explorer.activations.shape
    rows, cols = meta["sheet"][0] // h, meta["sheet"][1] // w
    n = rows * h * cols * w
    assert len(data) == 2 * n + 4 * c and meta["stats"] == pd.stats
    assert data[:n] == _size.sheet(pd.levels["minmax"]).tobytes()
    assert data[n:2 * n] == _size.sheet(pd.levels["stretch"]).tobytes()
    np.testing.assert_array_equal(np.frombuffer(data[2 * n:], "<f4"), explorer.activations.max(axis=(1, 2)))
    assert explorer._picture == explorer.picture.tobytes()


def test_stage_changes_the_picture(explorer):
    assert explorer.stage == "pre"  # MATLAB's conv1 is the value before its ReLU
    assert explorer.activations.min() < 0
    before = explorer.png
    page_sets(explorer, stage="post")
    assert explorer.stage == "post"
    assert explorer.activations.min() == 0.0
    assert explorer.png != before


def test_a_pool_layer_has_one_stage(explorer):
    assert layer_meta(explorer, "conv1")["stages"]
    assert not layer_meta(explorer, "pool1")["stages"]
    explorer.layer = "pool1"
    assert explorer._layer["layer"] == "pool1"


def test_strongest_channel(explorer):
    explorer.layer = "fire6-relu_squeeze1x1"
    explorer.select_strongest()
    assert explorer.channel == analysis.strongest_channel(explorer.activations)
    assert explorer._layer["stats"]["strongest"] == explorer.channel  # what the page's button picks
    assert explorer.error == ""


def test_wrong_types_get_a_sentence(explorer):
    with pytest.raises(traitlets.TraitError,
                       match=r"ActivationExplorer.channel must be a whole number .*int\(x\)"):
        explorer.channel = 3.5
    with pytest.raises(traitlets.TraitError, match=r"got the text '7': write ActivationExplorer.channel = 7"):
        explorer.channel = "7"
    with pytest.raises(traitlets.TraitError, match="must be a whole number"):
        explorer.channel = True
    assert explorer.channel == 0


def test_view_and_cmap_change_the_picture(explorer):
    explorer.channel = 5
    grid = explorer.png
    explorer.view = "channel"
    channel = explorer.png
    assert png_of(channel).size == (227, 227)
    explorer.view = "overlay"
    overlay = explorer.png
    assert len({grid, channel, overlay}) == 3
    explorer.cmap = "viridis"
    assert explorer.png != overlay
    assert "plasma" not in explorer._meta["cmaps"]
    explorer.cmap = "plasma"  # any matplotlib colormap: its colour tables go to the page
    assert "plasma" in explorer._meta["cmaps"] and not explorer._meta["cmaps"]["plasma"]["offer"]
    explorer.contrast = "stretch"
    assert explorer.png != overlay
    with pytest.raises(traitlets.TraitError, match="unknown colormap"):
        explorer.cmap = "no-such-map"
    with pytest.raises(traitlets.TraitError):
        explorer.view = "3d"


def test_stats_line(explorer):
    explorer.channel = 7
    acts = explorer.activations
    assert "64×113×113" in explorer.stats and "channel 7" in explorer.stats
    assert f"{acts[7].max():.4g}".replace("-", "−") in explorer.stats


def test_activations_equal_the_function(random_squeezenet, face, explorer):
    for layer, stage in [("conv1", "pre"), ("conv1", "post"), ("fire6-squeeze1x1", "pre"), ("pool5", "post")]:
        explorer.layer = layer
        explorer.stage = stage
        np.testing.assert_array_equal(explorer.activations,
                                      aw.activations(random_squeezenet, face, layer, stage))
    assert explorer.activations.flags.writeable  # a copy, not the cache's own array


def test_unknown_layer_raises_with_close_names(explorer):
    with pytest.raises(traitlets.TraitError, match="fire6-squeeze1x1"):
        explorer.layer = "fire6-squeez1x1"
    with pytest.raises(traitlets.TraitError, match=r"0\.\.63"):
        explorer.channel = 64
    assert explorer.layer == "conv1"
    # Native names are accepted and shown under the catalogue's name.
    explorer.layer = "features.3.squeeze"
    assert explorer.layer == "fire2-squeeze1x1"


def test_every_trait_has_help_and_a_clear_validation_message(random_squeezenet, tiny):
    made = [ActivationExplorer(tiny), CompareExplorer(tiny, "face", "cat"),
            FilterExplorer(tiny), FeatureVisualizer(tiny)]
    for w in made:
        for name in w._state_names:
            assert w.trait_metadata(name, "help"), f"{type(w).__name__}.{name} has no help"
        with pytest.raises(traitlets.TraitError, match=rf"{type(w).__name__}\.layer: no layer named"):
            w.layer = "nope"
    assert FeatureVisualizer(tiny).trait_metadata("running", "help")


# --------------------------------------------------------------------------- uploads


def test_upload_that_is_not_an_image_shows_an_error_and_keeps_state(explorer):
    explorer.channel = 3
    state, picture = repr(explorer), explorer.png
    upload(explorer, "notes.txt", b"this is not a picture")
    assert "not an image" in explorer.error and "notes.txt" in explorer.error
    assert repr(explorer) == state and explorer.png == picture
    assert "notes.txt" not in explorer._meta["images"]
    # Still working afterwards; a good render clears the message.
    explorer.channel = 4
    assert explorer.png != picture and explorer.error == ""


@pytest.mark.parametrize("damage", ["truncated", "damaged"])
def test_a_broken_upload_shows_the_image_error_and_keeps_the_picture(explorer, damage):
    explorer.image = "cat"
    state, picture = repr(explorer), explorer.png
    good = encoded(aw.sample_image("face"))
    content = good[: len(good) // 2] if damage == "truncated" else good[:100] + bytes(200) + good[300:]
    upload(explorer, "holiday.png", content)
    # One prefix naming the file, then the ImageError's own sentence.
    assert explorer.error.startswith("upload 'holiday.png': the uploaded file")
    assert f"is {damage}" in explorer.error
    assert isinstance(explorer.last_exception, aw.ImageError)
    assert repr(explorer) == state and explorer.png == picture


def test_a_big_photo_upload_is_accepted_and_shown(explorer):
    gradient = Image.linear_gradient("L").resize((8000, 6000)).convert("RGB")
    buf = io.BytesIO()
    gradient.save(buf, format="JPEG", quality=80)
    before = explorer.png
    upload(explorer, "big.jpg", buf.getvalue())
    assert explorer.error == "" and explorer.image == "big.jpg"
    assert explorer.picture.shape == (227, 227, 3) and explorer.png != before


def test_upload_of_a_photo_is_selected(explorer):
    photo = aw.sample_image("cat")
    before = explorer.png
    upload(explorer, "my cat.png", encoded(photo))
    assert explorer.image == "my cat.png" and explorer.error == ""
    assert explorer.png != before
    np.testing.assert_array_equal(explorer.picture, explorer.net.image(photo))
    assert explorer._picture == explorer.picture.tobytes()  # the page's overlay and thumbnail
    upload(explorer, "my cat.png", encoded(photo))  # the same name again is made unique
    assert explorer.image == "my cat.png (2)"


# --------------------------------------------------------------------------- other networks and images


def test_images_passed_in(tiny):
    rng = np.random.default_rng(1)
    pics = {"noise": rng.integers(0, 255, (40, 50, 3), dtype=np.uint8),
            "flat": np.full((32, 32, 3), 90, np.uint8)}
    e = ActivationExplorer(tiny, pics)
    options = e._meta["images"]
    assert list(options[:2]) == ["noise", "flat"] and e.image == "noise"
    assert "face" in options  # the samples are offered too
    e.image = "flat"
    assert e._layer["image"] == "flat"
    with pytest.raises(traitlets.TraitError, match="no image named"):
        e.image = "nope"
    name = e.add_image("noise", pics["noise"])  # names are made unique
    assert name == "noise (2)" and e.image == name and name in e._meta["images"]
    assert ActivationExplorer(tiny, [pics["flat"]]).image == "image 1"


def test_wrapped_user_model(tiny):
    e = ActivationExplorer(tiny)
    assert e.layer == "0" and layer_meta(e, "0")["channels"] == 8
    labels = [g["label"] for g in e._meta["groups"]]
    assert labels[0] == "all layers (5)"  # a flat Sequential: no "blocks"
    first = e.png
    e.layer = "3"
    assert e.activations.shape == (4, 16, 16)
    for view in ("grid", "channel", "overlay"):
        e.view = view
        assert png_of(e.png).size[0] >= 200  # small pictures are enlarged for display
    e.layer = "2"
    assert not layer_meta(e, "2")["stages"]
    assert e.png != first and e.error == ""
    np.testing.assert_array_equal(e.activations, aw.activations(tiny, aw.sample_image("face"), "2"))


def test_a_layer_of_one_by_one_maps_shows_every_channels_value(explorer):
    explorer.layer = "pool10"  # 1000 classes, one value each
    explorer.view = "channel"
    values = explorer.activations[:, 0, 0]
    chosen = int(np.argsort(values)[500])
    explorer.channel = chosen
    bars = np.asarray(png_of(explorer.png).convert("RGB"))
    assert bars.shape[1] >= 1000  # one bar (at least a pixel) per channel
    colours = {tuple(c) for c in bars.reshape(-1, 3)}
    assert (255, 64, 0) in colours and len(colours) >= 4  # the selected bar stands out
    orange = np.nonzero(np.all(bars == (255, 64, 0), axis=2))[1]
    assert abs(orange.mean() / bars.shape[1] - chosen / 1000) < 0.01  # where channel c is
    assert f"channel {chosen}: value" in explorer.stats and "rank 500 of 1000" in explorer.stats
    shown = explorer.png
    explorer.view = "overlay"  # a flat square over the image says nothing either
    assert explorer.png == shown and "shown as bars" in explorer.stats
    explorer.channel = (chosen + 10) % 1000
    assert explorer.error == ""


def test_flipping_the_stage_needs_no_second_forward_pass():
    net = aw.load_model("squeezenet", weights=None)
    runs = []
    run = net.extractor.run
    net.extractor.run = lambda x, names, **kw: runs.append(list(names)) or run(x, names, **kw)
    e = ActivationExplorer(net, layer="fire6-squeeze1x1")
    before = e.png
    e.stage = "post"
    assert e.png != before
    e.stage = "pre"
    assert len(runs) == 1 and set(runs[0]) == {"features.9.squeeze", "features.9.squeeze_activation"}
    c = CompareExplorer(net, "face", "face_eye_closed", layer="fire6-squeeze1x1")
    c.stage = "post"
    assert len(runs) == 2  # one pass for both images and both stages


# --------------------------------------------------------------------------- output


def test_save_png_and_repr(explorer, tmp_path):
    path = explorer.save_png(tmp_path / "conv1.png")
    assert path.read_bytes() == explorer.png and png_of(explorer.png).mode in ("RGB", "P")
    with pytest.raises(ValueError, match=".png"):
        explorer.save_png(tmp_path / "conv1.jpg")
    text = repr(explorer)
    assert text == ("ActivationExplorer(squeezenet, image='face', layer='conv1', stage='pre', channel=0, "
                    "view='grid')")

def test_the_mimebundle_has_a_picture_beside_the_widget_view(explorer):
    """A notebook converted to HTML, or saved without widget state, shows the picture."""
    import base64

    explorer.channel = 9
    data, _ = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"] == repr(explorer)
    assert base64.b64decode(data["image/png"]) == explorer.png
    assert png_of(explorer.png).size == (913, 913)


def test_random_weights_banner(explorer):
    assert explorer._meta["net"]["pretrained"] is False  # the page shows the banner


@pytest.mark.weights
def test_no_banner_for_pretrained(squeezenet):
    e = ActivationExplorer(squeezenet, layer="conv1")
    assert e._meta["net"]["pretrained"] is True and e.error == ""


def test_not_a_network():
    with pytest.raises(TypeError, match="Network.wrap"):
        ActivationExplorer(nn.Conv2d(3, 3, 1))
    with pytest.raises(TypeError, match="FeatureVisualizer takes an actwidgets.Network"):
        FeatureVisualizer(nn.Conv2d(3, 3, 1))


def test_a_click_on_a_grid_tile_picks_its_channel():
    import actwidgets.pixels as pixels

    net = aw.load_model("squeezenet", weights=None)
    explorer = ActivationExplorer(net, layer="fire2-squeeze1x1")
    acts = explorer.activations
    layout = pixels.grid_layout(acts.shape[0], acts.shape[1:])
    scale = int.from_bytes(explorer.png[16:20], "big") // layout.width
    x0, y0, x1, y1 = layout.box(11)
    assert explorer.select_tile((x0 + x1) / 2 * scale, (y0 + y1) / 2 * scale) == 11
    assert explorer.channel == 11
    assert explorer.select_tile(0, 0) is None and explorer.channel == 11  # the padding
    assert explorer._layer["grid"] == [layout.rows, layout.cols, layout.scale, layout.padding,
                                       layout.height, layout.width]  # the page's clicks: the same
    explorer.view = "channel"
    assert explorer.select_tile(5, 5) is None
