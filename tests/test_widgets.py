"""The widgets, headless: setting a trait or a control's value runs the observers
synchronously, so every interaction can be checked without a browser.

Tests about the zoo use the real SqueezeNet weights (the ``squeezenet`` fixture skips, with
the reason, where they are missing); the rest use tiny wrapped models for speed.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image
from torch import nn

import actwidgets as aw
from actwidgets import analysis
from actwidgets.model.layers import LayerInfo
from actwidgets.widgets import ActivationExplorer, CompareExplorer, FilterExplorer
from actwidgets.widgets._base import RenderGuard
from actwidgets.widgets.filters import NotAConvError, conv_module

_SHARED_HOME = Path(__file__).resolve().parents[1].parent / "shared" / "torch-home"


@pytest.fixture(scope="module", autouse=True)
def _torch_home():
    # The real SqueezeNet weights live in ../shared/torch-home unless TORCH_HOME says otherwise.
    if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
        os.environ["TORCH_HOME"] = str(_SHARED_HOME)
    yield


# --------------------------------------------------------------------------- helpers


def _png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not PNG bytes"
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def _upload(explorer: ActivationExplorer, name: str, content: bytes) -> None:
    """What the browser sends when the person picks a file."""
    explorer._upload.value = (
        {"name": name, "type": "", "size": len(content), "content": memoryview(content),
         "last_modified": datetime.datetime.now(datetime.timezone.utc)},
    )


def _png_header_only(width: int, height: int) -> bytes:
    """A valid PNG header that claims a (huge) size: decoding stops at the size check."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _encoded(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


class Flaky(nn.Module):
    """Identity until ``broken`` is set; then its forward pass raises."""

    broken = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.broken:
            raise RuntimeError("this layer failed on purpose")
        return x


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 4, 3, padding=1), nn.ReLU(),
    )
    return aw.Network.wrap(model, input_size=32, name="tiny")


@pytest.fixture()
def explorer(squeezenet):
    return ActivationExplorer(squeezenet, layer="conv1")


# --------------------------------------------------------------------------- ActivationExplorer


def test_layer_change_sets_slider_range_and_clamps_channel(explorer):
    explorer.channel = 60
    assert explorer._slider.max == 63 and explorer._slider.value == 60
    explorer.layer = "fire2-squeeze1x1"  # 16 channels
    assert explorer._slider.max == 15
    assert explorer.channel == 15 and explorer._slider.value == 15
    assert explorer.activations.shape == (16, 56, 56)
    # The dropdown pair follows: the block and the layer, labelled with channels and size.
    assert explorer._picker.group.value == ("block", "fire2")
    assert explorer._picker.layer.value == "fire2-squeeze1x1"
    assert "fire2-squeeze1x1 · 16 ch · 56×56" in explorer._picker.layer.options[0][0]
    # A larger layer widens the range and keeps the channel.
    explorer.layer = "fire2-concat"
    assert explorer._slider.max == 127 and explorer.channel == 15


def test_controls_drive_the_state(explorer):
    explorer._picker.group.value = ("block", "fire6")  # picking a block picks its first layer
    assert explorer.layer == "fire6-squeeze1x1"
    explorer._picker.layer.value = "fire6-relu_squeeze1x1"
    assert explorer.layer == "fire6-relu_squeeze1x1" and explorer.stage == "post"
    explorer._slider.value = 13
    assert explorer.channel == 13
    explorer._view_tb.value = "channel"
    assert explorer.view == "channel"
    explorer._picker.group.value = ("kind", "relu")  # grouping by kind keeps the layer
    assert explorer.layer == "fire6-relu_squeeze1x1"


def test_stage_toggle_changes_the_picture(explorer):
    assert explorer.stage == "pre"  # MATLAB's conv1 is the value before its ReLU
    assert explorer.activations.min() < 0
    before = explorer.png
    explorer._stage_tb.value = "post"
    assert explorer.stage == "post"
    assert explorer.activations.min() == 0.0
    assert explorer.png != before


def test_stage_toggle_is_disabled_on_a_pool_layer(explorer):
    assert not explorer._stage_tb.disabled
    explorer.layer = "pool1"
    assert explorer._stage_tb.disabled
    assert "pool1" in explorer._stage_tb.tooltip and "no activation" in explorer._stage_tb.tooltip
    explorer.layer = "fire2-relu_expand1x1"
    assert not explorer._stage_tb.disabled


def test_strongest_channel_button(explorer):
    explorer.layer = "fire6-relu_squeeze1x1"
    explorer._strongest.click()
    assert explorer.channel == analysis.strongest_channel(explorer.activations)
    assert explorer.error == ""


def test_view_and_cmap_change_the_picture(explorer):
    explorer.channel = 5
    grid = explorer.png
    explorer.view = "channel"
    channel = explorer.png
    assert _png(channel).size == (227, 227)
    explorer.view = "overlay"
    overlay = explorer.png
    assert len({grid, channel, overlay}) == 3
    explorer.cmap = "viridis"
    assert explorer.png != overlay and explorer._cmap_dd.value == "viridis"
    explorer.cmap = "plasma"  # any matplotlib colormap, added to the dropdown
    assert "plasma" in explorer._cmap_dd.options
    explorer.contrast = "stretch"
    assert explorer._contrast_tb.value == "stretch"
    with pytest.raises(traitlets.TraitError, match="unknown colormap"):
        explorer.cmap = "no-such-map"
    with pytest.raises(traitlets.TraitError):
        explorer.view = "3d"


def test_stats_line(explorer):
    explorer.channel = 7
    acts = explorer.activations
    text = explorer._stats.value
    assert "64×113×113" in text and "channel 7" in text
    assert f"{acts[7].max():.4g}".replace("-", "−") in text


def test_activations_equal_the_function(squeezenet, face, explorer):
    for layer, stage in [("conv1", "pre"), ("conv1", "post"), ("fire6-squeeze1x1", "pre"), ("pool5", "post")]:
        explorer.layer = layer
        explorer.stage = stage
        np.testing.assert_array_equal(explorer.activations, aw.activations(squeezenet, face, layer, stage))
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


def test_upload_that_is_not_an_image_shows_an_error_and_keeps_state(explorer):
    explorer.channel = 3
    state, picture = repr(explorer), explorer.png
    _upload(explorer, "notes.txt", b"this is not a picture")
    assert "not an image" in explorer.error and "notes.txt" in explorer.error
    assert repr(explorer) == state and explorer.png == picture
    assert "notes.txt" not in explorer._image_dd.options
    # Still working afterwards; a good render clears the message.
    explorer.channel = 4
    assert explorer.png != picture and explorer.error == ""


def test_huge_upload_shows_an_error(explorer):
    _upload(explorer, "huge.png", _png_header_only(8000, 6000))
    assert "pixels" in explorer.error and explorer.image == "face"


def test_upload_of_a_photo_is_selected(explorer):
    photo = aw.sample_image("cat")
    before = explorer.png
    _upload(explorer, "my cat.png", _encoded(photo))
    assert explorer.image == "my cat.png" and explorer.error == ""
    assert explorer.png != before
    np.testing.assert_array_equal(explorer.picture, explorer.net.image(photo))
    assert explorer._upload.value == ()  # ready for the next file


def test_images_passed_in(tiny):
    rng = np.random.default_rng(1)
    pics = {"noise": rng.integers(0, 255, (40, 50, 3), dtype=np.uint8), "flat": np.full((32, 32, 3), 90, np.uint8)}
    e = ActivationExplorer(tiny, pics)
    assert list(e._image_dd.options[:2]) == ["noise", "flat"] and e.image == "noise"
    assert "face" in e._image_dd.options  # the samples are offered too
    e.image = "flat"
    assert e._image_dd.value == "flat"
    with pytest.raises(traitlets.TraitError, match="no image named"):
        e.image = "nope"
    name = e.add_image("noise", pics["noise"])  # names are made unique
    assert name == "noise (2)" and e.image == name
    assert ActivationExplorer(tiny, [pics["flat"]]).image == "image 1"


def test_wrapped_user_model(tiny):
    e = ActivationExplorer(tiny)
    assert e.layer == "0" and e._slider.max == 7
    assert not e._picker.has_blocks  # a flat Sequential: no one-layer "blocks"
    first = e.png
    e.layer = "3"
    assert e._slider.max == 3 and e.activations.shape == (4, 16, 16)
    for view in ("grid", "channel", "overlay"):
        e.view = view
        assert _png(e.png).size[0] >= 200  # small pictures are enlarged for display
    e.layer = "2"
    assert e._stage_tb.disabled
    assert e.png != first and e.error == ""
    np.testing.assert_array_equal(e.activations, aw.activations(tiny, aw.sample_image("face"), "2"))


def test_a_failing_layer_shows_an_error_and_keeps_state():
    torch.manual_seed(0)
    flaky = Flaky()
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), flaky, nn.Conv2d(4, 2, 3), nn.ReLU())
    net = aw.Network.wrap(model, input_size=24, name="flaky", backend="hooks")  # runs Flaky for real
    e = ActivationExplorer(net)
    e.channel = 2
    state, picture = repr(e), e.png
    flaky.broken = True
    e._picker.layer.value = "3"  # needs a new forward pass, which raises
    assert "failed on purpose" in e.error
    assert isinstance(e.last_exception, RuntimeError)  # its traceback is kept for a closer look
    assert repr(e) == state and e.png == picture
    assert e._picker.layer.value == "0" and e._slider.max == 3
    flaky.broken = False
    e.layer = "3"
    assert e.error == "" and e.activations.shape == (2, 20, 20)


def test_stale_render_never_overwrites_a_newer_one(explorer):
    # An older request (channel 1) computes its picture but completes late.
    explorer.channel = 1
    old_token = explorer.render_guard.begin()
    old_result = explorer._compute()
    explorer.channel = 2  # a newer request renders and writes
    newer = explorer.png
    assert not explorer._finish(old_token, old_result)
    assert explorer.png == newer and explorer.channel == 2
    assert explorer.render_guard.dropped == 1

    guard = RenderGuard()
    a, b = guard.begin(), guard.begin()
    written: list[str] = []
    assert guard.commit(b, lambda: written.append("b"))
    assert not guard.commit(a, lambda: written.append("a"))
    assert written == ["b"]


def test_fast_slider_drag_draws_only_the_newest_channel(tiny):
    e = ActivationExplorer(tiny, layer="0", view="channel")
    drawn: list[int] = []
    e._picture.observe(lambda change: drawn.append(e.channel), "value")

    # Outside an event loop a message from the browser renders at once.
    e._slider.set_state({"value": 1})  # what ipywidgets does with a message from the browser
    assert drawn == [1] and e.channel == 1

    async def drag() -> None:
        # In a kernel the messages of a fast drag queue up; the renders wait for the loop.
        for k in range(2, 8):
            e._slider.set_state({"value": k})
        assert e.channel == 7 and drawn == [1]
        await asyncio.sleep(0)  # the loop runs the queued render requests

    dropped = e.render_guard.dropped
    asyncio.run(drag())
    assert drawn == [1, 7]  # one render, the newest; no older one overwrote it
    assert e.render_guard.dropped - dropped == 5
    expected = ActivationExplorer(tiny, layer="0", view="channel", channel=7).png
    assert e.png == expected


def test_save_png_and_repr(explorer, tmp_path):
    path = explorer.save_png(tmp_path / "conv1.png")
    assert path.read_bytes() == explorer.png and _png(explorer.png).mode in ("RGB", "P")
    with pytest.raises(ValueError, match=".png"):
        explorer.save_png(tmp_path / "conv1.jpg")
    text = repr(explorer)
    assert text == "ActivationExplorer(squeezenet, image='face', layer='conv1', stage='pre', channel=0, view='grid')"
    assert len(text) < 200
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == text


def test_random_weights_banner():
    net = aw.load_model("squeezenet", weights=None)
    e = ActivationExplorer(net)
    assert "Random weights" in e._banner.value and e._banner in e.children
    assert e._banner.layout.display != "none"


def test_no_banner_for_pretrained(explorer):
    assert explorer._banner.value == "" and explorer._banner.layout.display == "none"


def test_not_a_network():
    with pytest.raises(TypeError, match="Network.wrap"):
        ActivationExplorer(nn.Conv2d(3, 3, 1))


# --------------------------------------------------------------------------- CompareExplorer


def test_compare_same_image_has_zero_difference(squeezenet):
    face = aw.sample_image("face")
    c = CompareExplorer(squeezenet, face, face.copy(), layer="fire6-relu_squeeze1x1")
    assert c.max_abs_difference == 0.0
    assert not np.any(c.difference)
    a, b = c.pngs[:2]
    assert a == b  # one scale for both: the same map gives the same picture
    assert "max |Δ|</b> 0" in c._stats.value


def test_compare_open_and_closed_eye(squeezenet):
    c = CompareExplorer(
        squeezenet, aw.sample_image("face"), aw.sample_image("face_eye_closed"),
        labels=("open", "closed"), layer="fire6-relu_squeeze1x1", channel=13,
    )
    assert c.max_abs_difference > 0
    a, b = c.activations
    np.testing.assert_array_equal(c.difference, b[13] - a[13])
    assert len(set(c.pngs)) == 3
    # Both maps share one scale: the brighter image's max reaches the top colour only once.
    assert "one scale for both" in c._stats.value and "open" in c._stats.value
    chosen = c.select_largest_difference()
    assert chosen == int(np.argmax(np.abs(b - a).reshape(len(a), -1).max(axis=1)))
    # Shared controls, as in the explorer.
    c.layer = "pool1"
    assert c._stage_tb.disabled and c._slider.max == 63
    assert len(repr(c)) < 200 and repr(c).startswith("CompareExplorer(squeezenet, labels=('open', 'closed')")


def test_compare_same_limits_for_both(tiny):
    a = np.zeros((32, 32, 3), np.uint8)
    b = np.full((32, 32, 3), 200, np.uint8)
    c = CompareExplorer(tiny, a, b, layer="0")
    # Different inputs give different constant maps; one shared scale shows them differently.
    pa, pb = (np.asarray(_png(p).convert("RGB")) for p in c.pngs[:2])
    assert not np.array_equal(pa, pb)
    c.contrast = "stretch"
    assert c.error == ""


# --------------------------------------------------------------------------- FilterExplorer


def test_filter_explorer_on_squeezenet_conv1(squeezenet):
    f = FilterExplorer(squeezenet, "conv1")
    assert f.weights.shape == (64, 3, 3, 3) and f._slider.max == 63
    assert conv_module(squeezenet, "conv1")[0] == "features.0"
    pngs = f.pngs
    tiles = np.asarray(_png(pngs["tiles"]).convert("RGB")).astype(int)
    # First-layer filters are colour pictures: the channels differ.
    assert np.abs(tiles[..., 0] - tiles[..., 1]).max() > 50
    assert _png(pngs["frequency"]).size[0] >= 64 and _png(pngs["weights"]).size[0] > 0
    before = f.pngs
    f.filter = 5
    assert f.pngs["weights"] != before["weights"] and f.pngs["tiles"] != before["tiles"]
    f.input_channel = 1  # the green channel, as in the GoogLeNet blog
    h = f.frequency_response
    assert h.shape == (64, 64)
    kernel = f.weights[5, 1]
    np.testing.assert_allclose(h[32, 32], abs(kernel.sum()), rtol=1e-5)  # DC gain
    assert "input G" in f._freq_caption.value
    f.input_channel = -1
    assert f.frequency_response.shape == (3, 64, 64)
    with pytest.raises(traitlets.TraitError, match=r"0\.\.2"):
        f.input_channel = 3
    # Another conv layer from the dropdown: more inputs, the range follows.
    f._layer_dd.value = "fire9-expand3x3"
    assert f.layer == "fire9-expand3x3" and f.weights.shape == (256, 64, 3, 3)
    assert f._slider.max == 255 and f.error == ""
    assert len(repr(f)) < 200


def test_filter_explorer_refuses_a_pool_layer(squeezenet):
    with pytest.raises(NotAConvError, match="conv1") as info:
        FilterExplorer(squeezenet, "pool1")
    assert isinstance(info.value, ValueError) and isinstance(info.value, traitlets.TraitError)
    assert "pool" in str(info.value)
    f = FilterExplorer(squeezenet)
    with pytest.raises(traitlets.TraitError, match="not a convolution"):
        f.layer = "relu_conv1"
    assert f.layer == "conv1"


def test_conv_module_resolution(tiny):
    assert conv_module(tiny, "0")[0] == "0" and conv_module(tiny, "3")[0] == "3"
    with pytest.raises(NotAConvError):
        conv_module(tiny, "2")

    # GoogLeNet's MATLAB conv names point at the batch norm inside BasicConv2d: the conv is
    # its sibling.
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
    as_conv = LayerInfo(**{**native.__dict__, "name": "conv1-7x7_s2", "kind": "conv"})
    name, conv = conv_module(net, as_conv)
    assert name == "conv1.conv" and conv is model.conv1.conv
    with pytest.raises(NotAConvError):
        conv_module(net, native)  # a plain batch norm is not a conv


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
