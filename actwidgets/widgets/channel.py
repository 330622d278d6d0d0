"""ChannelView: one channel three ways, side by side: the patches of a whole image collection
that make it fire most (from a :class:`~actwidgets.ChannelAtlas`), the picture it responds to
most (feature visualisation, computed in the background on demand), and its activation on
one image.

Feature visualisations can mislead; natural images that excite the same channel are the
standard check, so the two stand next to each other here. The page is an ES module
(:mod:`actwidgets.frontend`: ``draw.js`` + ``channelview.js``): a channel change sends the
patches once as raw RGB bytes and the activation as 8-bit levels at the layer's size; the
page scales, colour-maps and blends them.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> photos = [aw.sample_image(n) for n in ("face", "cat", "coffee")]
>>> atlas = aw.channel_atlas(net, photos, ["fire2-squeeze1x1"], top=3, progress=False)
>>> view = aw.ChannelView(net, atlas, photos, channel=4)
>>> view.layer, len(view.entries)
('fire2-squeeze1x1', 3)
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image
from traitlets import Bytes, Dict, Int, Unicode, validate

from .. import frontend, pixels
from ..capture import cached_activations
from . import _parts
from ._fvrun import Job, Pictures, Run
from ._netlock import network_lock
from ._page import PageWidget
from ._shelf import ImageShelf

__all__ = ["ChannelView"]

PATCH_SIDE = 96  # each patch is shown in a square of this many pixels
FV_STEPS = 96  # a quick, regularised feature visualisation
FV_SIZE = 128
ACT_CMAP, ACT_ALPHA = "inferno", 0.6  # the activation over the image


def _fit(patch: np.ndarray, side: int = PATCH_SIDE) -> np.ndarray:
    """``patch`` (h, w, 3) shrunk to fit ``side``×``side`` (a small one is kept as it is:
    the page grows it by whole pixels)."""
    img = Image.fromarray(np.ascontiguousarray(patch, np.uint8))
    if max(img.size) > side:
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
    return np.asarray(img)


def _square(patch: np.ndarray, side: int = PATCH_SIDE) -> np.ndarray:
    """A fitted patch grown by whole pixels and centred on white, as the page draws it."""
    img = Image.fromarray(patch)
    scale = side // max(img.size)
    if scale > 1:  # small patches (early layers) grow by whole pixels
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    out = Image.new("RGB", (side, side), (255, 255, 255))
    out.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    return np.asarray(out)


def _levels(ch: np.ndarray) -> np.ndarray:
    """A map's 8-bit levels (min-max): the page resizes and colours them."""
    lo, hi = float(ch.min()), float(ch.max())
    scaled = (ch - lo) / (hi - lo) if hi > lo else np.zeros_like(ch)
    return np.round(scaled * 255).astype(np.uint8)


class ChannelView(PageWidget):
    """The top patches of a collection, the feature visualisation and the activation on an
    image, for one channel (``layer``, ``stage``, ``channel``); see the module documentation.

    ``atlas`` is a :class:`~actwidgets.ChannelAtlas` of ``collection`` (the images it was
    computed on; None when they are files the atlas can read again). ``images``: pictures to
    show the activation on, as for :class:`ActivationExplorer` (the samples are offered too).
    :meth:`follow` makes the view show what an :class:`ActivationExplorer` shows;
    :meth:`visualise` (the page's *visualise* button) draws the feature visualisation in the
    background, :meth:`stop` (*stop*) ends it after the current step.
    """

    _esm = frontend.module_text("draw.js", "controls.js", "channelview.js")
    _css = frontend.stylesheet("channelview.css")

    layer = _parts.LayerTrait(help="The layer (one of the atlas' layers for patches; any for the rest)"
                              ).tag(sync=True)
    stage = _parts.StageTrait("post", help='"pre": before the activation; "post": after it').tag(sync=True)
    channel = Int(0, help="The channel shown, 0..channels-1 of the layer").tag(sync=True)
    image = Unicode(help="The picture the activation is shown on").tag(sync=True)
    _meta = Dict(help="The network and the overlay's colour table (sent once)").tag(sync=True)
    _panel = Dict(help="What is shown: layer, stage, channel, image; the patches' sizes and "
                  "notes; the activation's size and numbers; the feature visualisation's").tag(sync=True)
    _patches = Bytes(
        help="The top patches' uint8 RGB pixels one after another (sizes in _panel)",
    ).tag(sync=True)
    _act = Bytes(help="The channel's 8-bit levels on the image, (h, w) at the layer's size").tag(sync=True)
    _picture = Bytes(help="The image's (H, W, 3) uint8 pixels at the input size").tag(sync=True)
    _fv_picture = Bytes(
        help="The feature visualisation's (s, s, 3) uint8 pixels (empty: none)",
    ).tag(sync=True)
    _fv_run = Dict(help="The drawing under way: running, stopping, steps done and in all").tag(sync=True)

    _state_names = ("layer", "stage", "channel", "image")

    def __init__(self, net: Any, atlas: Any, collection: Any = None, *, layer: str | None = None,
                 stage: str | None = None, channel: int = 0, image: str | None = None,
                 images: Any = None) -> None:
        super().__init__(net)
        self.atlas, self.collection = atlas, collection
        self._shelf = ImageShelf(self._net)
        self._shelf.add_given(images)
        self._shelf.add_samples()
        self._fv: dict[tuple[str, str, int], tuple[np.ndarray, int, int]] = {}  # picture, done, steps
        self._patch_cache: dict[tuple[str, str, int], tuple[list[np.ndarray], list[Any]]] = {}
        self._run: Run | None = None
        self._picture_of: str | None = None
        self._meta = {"net": {"name": self._net.name, "weights": self._net.weights,
                              "pretrained": bool(self._net.pretrained), "input": list(self._net.input_size)},
                      "cmaps": frontend.cmap_tables([ACT_CMAP]), "cmap": ACT_CMAP, "alpha": ACT_ALPHA,
                      "side": PATCH_SIDE}
        self._fv_run = {"running": False, "stopping": False, "done": 0, "total": 0}
        first = next((n for n in atlas.layers if n in self._net.layers), self._net.layers.names[0])
        first = first if layer is None else layer
        with self.batch():
            self.layer = first
            self.stage = stage  # None: the layer's default
            self.channel = channel
            self.image = image or self._shelf.names[0]
        if not self._start():
            raise ValueError(f"ChannelView cannot show {self.layer!r}: {self.error}")

    # ------------------------------------------------------------------ state
    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return _parts.check_layer_name(self._net, proposal["value"], "ChannelView").name

    @validate("stage")
    def _valid_stage(self, proposal: Any) -> str:
        info = self._net.layers[self.layer] if self.layer else None
        return _parts.check_stage(info, proposal["value"], "ChannelView")

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

    def follow(self, explorer: Any) -> ChannelView:
        """Show what ``explorer`` shows: its layer, stage, channel and (where this view has
        it) image follow it from now on (a click on a grid tile, too). Returns self."""
        def copy(_change: Any = None) -> None:  # together: a stage is checked with its layer
            info = self._net.layers[explorer.layer]
            stage = explorer.stage if explorer.stage in info.stages else None  # mid-change
            with self.batch(), self.hold_trait_notifications():
                self.layer, self.stage, self.channel = info.name, stage, explorer.channel

        with self.batch():
            copy()
            explorer.observe(copy, names=["layer", "stage", "channel"])
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
        try:
            return self.atlas.top(self.layer, self.channel, self.stage)
        except ValueError:  # a stage the atlas did not scan for this layer: the one it did
            return self.atlas.top(self.layer, self.channel)

    def _patch_list(self) -> tuple[list[np.ndarray], list[Any]]:
        """The channel's top patches (each fitted to the square) and their entries."""
        key = (self.layer, self.stage, self.channel)
        if key not in self._patch_cache:
            entries = self.entries
            if len(self._patch_cache) >= 64:
                self._patch_cache.pop(next(iter(self._patch_cache)))
            self._patch_cache[key] = ([_fit(e.patch(self.collection)) for e in entries], entries)
        return self._patch_cache[key]

    def _channel_map(self) -> np.ndarray:
        """The channel's (h, w) map on the image."""
        info = self._net.layers[self.layer]
        with network_lock(self._net).hold(f"ChannelView on {info.name}"):  # its run may be going
            found = cached_activations(self._net, [self._shelf.picture(self.image)], [info.pre, info.post])[0]
        return found[info.point(self.stage)][self.channel]

    def _compute(self) -> dict[str, Any]:
        patches, entries = self._patch_list()
        ch = self._channel_map()
        fv = self._fv.get((self.layer, self.stage, self.channel))
        info = self._net.layers[self.layer]
        panel = {
            "layer": self.layer, "stage": self.stage, "channel": self.channel, "image": self.image,
            "stages": info.has_stages, "atlas": list(self.atlas.layers),
            "patches": [{"h": p.shape[0], "w": p.shape[1], "index": int(e.index),
                         "score": _parts.fmt(e.score)} for p, e in zip(patches, entries, strict=True)],
            "act": {"h": int(ch.shape[0]), "w": int(ch.shape[1]), "max": _parts.fmt(float(ch.max())),
                    "mean": _parts.fmt(float(ch.mean()))},
            "fv": None if fv is None else {"side": int(fv[0].shape[0]), "done": fv[1], "steps": fv[2]},
        }
        return {"panel": panel, "patches": b"".join(np.ascontiguousarray(p).tobytes() for p in patches),
                "act": _levels(ch).tobytes(), "fv": b"" if fv is None else fv[0].tobytes(),
                "picture": None if self._picture_of == self.image else self._shelf.picture(self.image)}

    def _apply(self, r: dict[str, Any]) -> None:
        with widgets.Widget.hold_sync(self):  # one message; unchanged bytes are not sent again
            if r["picture"] is not None:
                self._picture, self._picture_of = np.ascontiguousarray(r["picture"]).tobytes(), self.image
            self._patches, self._act, self._fv_picture = r["patches"], r["act"], r["fv"]
            self._panel = r["panel"]

    @property
    def png(self) -> bytes:
        """The PNG bytes of the patches now shown (b"" off the atlas), drawn in Python."""
        patches, _ = self._patch_list()
        if not patches:
            return b""
        return _parts.to_png(pixels.imtile(np.stack([_square(p) for p in patches]), padding=2))

    @property
    def activation(self) -> np.ndarray:
        """The (H, W, 3) uint8 picture of the activation over the image (drawn in Python)."""
        return pixels.overlay(self._shelf.picture(self.image), self._channel_map(), cmap=ACT_CMAP,
                              alpha=ACT_ALPHA)

    # ------------------------------------------------------------------ feature visualisation
    def visualise(self, wait: bool = False) -> None:
        """Draw the channel's feature visualisation in the background (``wait``: block)."""
        with self._lock:
            if self._run is not None and not self._run.ended.is_set():
                raise RuntimeError("a feature visualisation is being drawn; wait for it, or stop it")
            job = Job(self.layer, [self.channel], "regularized", FV_STEPS, FV_SIZE, 0, self.stage)
            self._run = run = Run(self._net, job, on_progress=self._fv_progress,
                                  on_pictures=lambda p: None, on_end=self._fv_end)
            self._fv_run = {"running": True, "stopping": False, "done": 0, "total": job.steps,
                            "key": [job.layer, job.stage, job.channels[0]]}
        run.run_here() if wait else run.start()

    def stop(self) -> bool:
        """End the feature visualisation being drawn after its current step (its picture so
        far is kept); False when none is being drawn."""
        with self._lock:
            run = self._run
            if run is None or run.ended.is_set() or run.stopping:
                return False
            run.stop()
            self._fv_run = {**self._fv_run, "stopping": True}
            return True

    def _on_visualise(self, content: Any, buffers: list[Any]) -> None:
        self.visualise()

    def _on_stop(self, content: Any, buffers: list[Any]) -> None:
        self.stop()

    def _fv_progress(self, done: int, total: int) -> None:
        with self._lock:  # the run's thread where no event loop runs
            self._fv_run = {**self._fv_run, "done": done, "total": total}

    def _fv_end(self, pictures: Pictures | None, error: BaseException | None) -> None:
        with self._lock:
            self._fv_run = {**self._fv_run, "running": False, "stopping": False}
            if error is not None:
                self._report(error, "visualise")
            elif pictures is not None:
                job = pictures.job
                self._fv[(job.layer, job.stage, job.channels[0])] = (
                    pixels.to_uint8(pictures.images[0]), pictures.done, job.steps)
                self._request_render()
