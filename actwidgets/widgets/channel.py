"""ChannelView: one channel three ways, side by side: the patches of a whole image collection
that make it fire most (from a :class:`~actwidgets.ChannelAtlas`), the picture it responds to
most (feature visualisation, computed in the background on demand), and its activation on
one image.

Feature visualisations can mislead; natural images that excite the same channel are the
standard check, so the two stand next to each other here.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> photos = [aw.sample_image(n) for n in ("face", "cat", "coffee")]
>>> atlas = aw.channel_atlas(net, photos, ["fire2-squeeze1x1"], top=3, progress=False)
>>> view = aw.ChannelView(net, atlas, photos, channel=4)
>>> view.layer, len(view.entries)
('fire2-squeeze1x1', 3)
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image
from traitlets import Enum, Int, Unicode, validate

from .. import pixels
from ..capture import cached_activations
from . import _parts
from ._fvrun import Job, Pictures, Run
from ._netlock import network_lock
from ._shelf import ImageShelf
from ._state import StateWidget

__all__ = ["ChannelView"]

PATCH_SIDE = 96  # each patch is shown in a square of this many pixels
FV_STEPS = 96  # a quick, regularised feature visualisation
FV_SIZE = 128


def _square(patch: np.ndarray, side: int = PATCH_SIDE) -> np.ndarray:
    """``patch`` (h, w, 3) scaled to fit ``side``×``side``, centred on white."""
    img = Image.fromarray(patch)
    img.thumbnail((side, side), Image.Resampling.LANCZOS) if max(img.size) > side else None
    scale = side // max(img.size)
    if scale > 1:  # small patches (early layers) grow by whole pixels
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = Image.new("RGB", (side, side), (255, 255, 255))
    out.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return np.asarray(out)


class ChannelView(StateWidget):
    """The top patches of a collection, the feature visualisation and the activation on an
    image, for one channel (``layer``, ``stage``, ``channel``); see the module documentation.

    ``atlas`` is a :class:`~actwidgets.ChannelAtlas` of ``collection`` (the images it was
    computed on; None when they are files the atlas can read again). ``images``: pictures to
    show the activation on, as for :class:`ActivationExplorer` (the samples are offered too).
    :meth:`follow` makes the view show what an :class:`ActivationExplorer` shows.
    """

    layer = Unicode(help="The layer (one of the atlas' layers for patches; any for the rest)")
    stage = Enum(("pre", "post"), "post", help='"pre": before the activation; "post": after it')
    channel = Int(0, help="The channel shown, 0..channels-1 of the layer")
    image = Unicode(help="The picture the activation is shown on")

    _state_names = ("layer", "stage", "channel", "image")

    def __init__(self, net: Any, atlas: Any, collection: Any = None, *, layer: str | None = None,
                 stage: str | None = None, channel: int = 0, image: str | None = None,
                 images: Any = None) -> None:
        super().__init__(net)
        self.atlas, self.collection = atlas, collection
        self._shelf = ImageShelf(self._net)
        self._shelf.add_given(images)
        self._shelf.add_samples()
        self._fv: dict[tuple[str, str, int], bytes] = {}  # PNGs, encoded once per run
        self._patch_cache: dict[tuple[str, str, int], tuple[bytes, str, list[Any]]] = {}
        self._run: Run | None = None
        self._build()
        first = layer or next((n for n in atlas.layers if n in self._net.layers), self._net.layers.names[0])
        with self.batch():
            self.layer = first
            self.stage = stage or self._net.layers[self.layer].default_stage
            self.channel = channel
            self.image = image or self._shelf.names[0]
        if not self._start():
            raise ValueError(f"ChannelView cannot show {self.layer!r}: {self.error}")

    def _build(self) -> None:
        self._title = widgets.HTML("")
        self._patches, self._fv_pic, self._act_pic = (_parts.png_image() for _ in range(3))
        self._patch_notes, self._fv_note, self._act_note = (widgets.HTML("") for _ in range(3))
        self._fv_button = widgets.Button(description="visualise", icon="magic",
                                         tooltip="Draw the picture this channel responds to most")
        self._fv_button.on_click(lambda _: self._guarded("visualise", self.visualise))
        column = lambda *children: widgets.VBox(list(children), layout=widgets.Layout(margin="0 12px 0 0"))  # noqa: E731
        self.children = [
            self._banner, self._title,
            widgets.HBox([column(widgets.HTML("<b>top patches of the collection</b>"), self._patches,
                                 self._patch_notes),
                          column(widgets.HTML("<b>feature visualisation</b>"), self._fv_pic,
                                 self._fv_button, self._fv_note),
                          column(widgets.HTML("<b>on the image</b>"), self._act_pic, self._act_note)]),
            self._error,
        ]

    # ------------------------------------------------------------------ state
    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return _parts.check_layer_name(self._net, proposal["value"], "ChannelView").name

    @validate("channel")
    def _valid_channel(self, proposal: Any) -> int:
        count = self._net.layers[self.layer].channels if self.layer else 1 << 30
        return _parts.check_index("ChannelView", "channel", proposal["value"], count, repr(self.layer))

    @validate("image")
    def _valid_image(self, proposal: Any) -> str:
        if proposal["value"] not in self._shelf:
            raise traitlets.TraitError(f"ChannelView.image: no image named {proposal['value']!r}; "
                                       f"choose from {self._shelf.names}")
        return proposal["value"]

    def _follow_layer(self, change: Any) -> None:
        info = self._net.layers[change.new]
        if not info.has_stages:
            self.stage = info.default_stage
        if self.channel >= info.channels:
            self.channel = info.channels - 1

    def follow(self, explorer: Any) -> "ChannelView":
        """Show what ``explorer`` shows: its layer, stage, channel and (where this view has
        it) image follow it from now on (a click on a grid tile, too). Returns self."""
        with self.batch():
            for name in ("layer", "stage", "channel"):
                traitlets.dlink((explorer, name), (self, name))
            if explorer.image in self._shelf:
                traitlets.dlink((explorer, "image"), (self, "image"),
                                transform=lambda v: v if v in self._shelf else self.image)
        return self

    # ------------------------------------------------------------------ the three panels
    @property
    def entries(self) -> list[Any]:
        """The atlas' entries for the channel shown (best first; empty off the atlas)."""
        if self.layer not in self.atlas.layers:
            return []
        stage = self.stage if self.stage in self.atlas.stages else None
        return self.atlas.top(self.layer, self.channel, stage)

    def _patch_panel(self) -> tuple[bytes, str, list[Any]]:
        key = (self.layer, self.stage, self.channel)
        if key not in self._patch_cache:
            entries = self.entries
            if not entries:
                note = (f"{html.escape(self.layer)} is not in the atlas (its layers: "
                        f"{html.escape(', '.join(self.atlas.layers))})")
                return b"", note, []
            tiles = np.stack([_square(e.patch(self.collection)) for e in entries])
            png = _parts.to_png(pixels.imtile(tiles, padding=2))
            note = " · ".join(f"{i + 1}: image {e.index}, {_parts.fmt(e.score)}" for i, e in enumerate(entries))
            self._patch_cache[key] = (png, f'<span style="font-size:85%">{note}</span>', entries)
        return self._patch_cache[key]

    def _activation_panel(self) -> tuple[bytes, str]:
        picture = self._shelf.picture(self.image)
        info = self._net.layers[self.layer]
        with network_lock(self._net).hold(f"ChannelView on {info.name}"):  # its run may be going
            found = cached_activations(self._net, [picture], [info.pre, info.post])[0]
        ch = found[info.point(self.stage)][self.channel]
        return (_parts.to_png(pixels.overlay(picture, ch, cmap="inferno", alpha=0.6)),
                f'<span style="font-size:85%">{html.escape(self.image)}: max {_parts.fmt(float(ch.max()))}, '
                f"mean {_parts.fmt(float(ch.mean()))}</span>")

    def _compute(self) -> dict[str, Any]:
        patches, patch_note, _ = self._patch_panel()
        act_png, act_note = self._activation_panel()
        return dict(patches=patches, patch_note=patch_note, act=act_png, act_note=act_note,
                    fv=self._fv.get((self.layer, self.stage, self.channel)))

    def _apply(self, r: dict[str, Any]) -> None:
        info = self._net.layers[self.layer]
        stage = f" ({self.stage}-ReLU)" if info.has_stages else ""
        self._title.value = f"<b>{html.escape(self.layer)}{stage}, channel {self.channel}</b>"
        self._patches.value, self._patch_notes.value = r["patches"], r["patch_note"]
        self._act_pic.value, self._act_note.value = r["act"], r["act_note"]
        self._fv_pic.value = r["fv"] or b""
        for picture in (self._patches, self._fv_pic):  # no broken-picture icon while empty
            picture.layout.display = None if picture.value else "none"
        running = self._run is not None and not self._run.ended.is_set()
        if r["fv"]:
            self._fv_note.value = ""
        elif not running:
            self._fv_note.value = '<span style="font-size:85%">press <i>visualise</i>: a few seconds, in the background</span>'
        self._fv_button.disabled = running or r["fv"] is not None

    @property
    def png(self) -> bytes:
        """The PNG bytes of the patches now shown."""
        return bytes(self._patches.value)

    # ------------------------------------------------------------------ feature visualisation
    def visualise(self, wait: bool = False) -> None:
        """Draw the channel's feature visualisation in the background (``wait``: block)."""
        if self._run is not None and not self._run.ended.is_set():
            raise RuntimeError("a feature visualisation is being drawn; wait for it")
        job = Job(self.layer, [self.channel], "regularized", FV_STEPS, FV_SIZE, 0, self.stage)
        self._run = Run(self._net, job, on_progress=self._fv_progress,
                        on_pictures=lambda p: None, on_end=self._fv_end)
        self._fv_button.disabled = True
        self._run.run_here() if wait else self._run.start()

    def _fv_progress(self, done: int, total: int) -> None:
        self._fv_note.value = f'<span style="font-size:85%">drawing: step {done} of {total}</span>'

    def _fv_end(self, pictures: Pictures | None, error: BaseException | None) -> None:
        if error is not None:
            self._report(error, "visualise")
        elif pictures is not None:
            job = pictures.job
            self._fv[(job.layer, job.stage, job.channels[0])] = _parts.to_png(
                pixels.to_uint8(pictures.images[0]), PATCH_SIDE * 2)
        self._request_render()
