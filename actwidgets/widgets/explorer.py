"""``ActivationExplorer``: every layer and channel of a network, before and after its ReLU.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> explorer = aw.ActivationExplorer(net)           # display(explorer) in a notebook
>>> explorer.layer = "fire6-relu_squeeze1x1"; explorer.channel = 13
>>> explorer.activations.shape
(48, 14, 14)
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from traitlets import Bytes, Dict, Enum, Unicode, validate

from .. import analysis, frontend, pixels
from ..explorer_state import ExplorerState
from ..pixels.views import CMAPS, OVERLAY_ALPHA, VIEWS, overlay_cmap
from . import _parts
from ._layered import LayerState
from ._page import PageWidget, synced
from ._shelf import MAX_UPLOAD_BYTES, ImageShelf, read_upload

__all__ = ["ActivationExplorer", "VIEWS", "MAX_UPLOAD_BYTES"]


class ActivationExplorer(LayerState, PageWidget):
    """Explore the activations of every layer and channel of ``net`` for an image.

    ``images``: extra pictures to offer besides the samples, a dict name → image or a list
    (anything :func:`actwidgets.load_image` reads). The person can also upload a photo.
    The state lives in traitlets (``image``, ``layer``, ``stage``, ``channel``, ``view``,
    ``cmap``, ``contrast``), synced with the page: set them from code, observe them, or use
    the controls. ``explorer.state`` gives them as one
    :class:`~actwidgets.explorer_state.ExplorerState` (and sets them together); the keyword
    arguments, or ``state=``, give the first one. ``layer`` and ``stage`` are read as
    ``activations`` reads them: the same bad one gets the same sentence (a stage the layer
    does not have too). The page (an ES module, :mod:`actwidgets.frontend`) draws the
    pictures: the kernel sends a layer's 8-bit levels once per image, layer or stage change, and channel,
    view, colormap and contrast changes are drawn in the browser (the channel is sent back
    when a drag ends). ``explorer.activations`` is the ``(C, h, w)`` array now shown,
    ``explorer.png`` the picture (drawn in Python on demand). A layer whose maps are 1×1 (a
    global pool, a linear layer) has one value per channel: its channel and overlay views show
    all channels' values as bars, the selected one highlighted, and the statistics line gives
    its value and rank.
    """

    _esm = frontend.module_text()
    _css = frontend.stylesheet()

    image = Unicode(help="Name of the picked image: a sample, one passed in, or an upload").tag(sync=True)
    view = Enum(
        VIEWS, "grid",
        help='"grid": all channels; "channel": one at image size; "overlay": one over the image',
    ).tag(sync=True)
    layer = synced(LayerState.layer)
    stage = synced(LayerState.stage)
    channel = synced(LayerState.channel)
    cmap = synced(LayerState.cmap)
    contrast = synced(LayerState.contrast)
    _meta = Dict(help="The network, its layers and groups, the images' names, colour tables").tag(sync=True)
    _layer = Dict(help="The shown layer: image, layer, stage, geometry, stats line numbers").tag(sync=True)
    _levels = Bytes(
        help="The shown layer's 8-bit levels (a sheet per contrast) and float32 maxima",
    ).tag(sync=True)
    _picture = Bytes(help="The image's (H, W, 3) uint8 pixels at the input size").tag(sync=True)

    _state_names = ("image", "layer", "stage", "channel", "view", "cmap", "contrast")
    _repr_names = ("image", "layer", "stage", "channel", "view")
    _serials = itertools.count(1)

    def __init__(
        self,
        net: Any,
        images: Mapping[str, Any] | list[Any] | tuple[Any, ...] | None = None,
        *,
        image: str | None = None,
        layer: str | None = None,
        stage: str | None = None,
        channel: int = 0,
        view: str = "grid",
        cmap: str = "gray",
        contrast: str = "minmax",
        state: ExplorerState | None = None,
    ) -> None:
        super().__init__(net)
        self._shelf = ImageShelf(self._net)
        self._shelf.add_given(images)
        self._shelf.add_samples()
        self._stats_cache: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self._sent: tuple[str, str, str] | None = None
        self._picture_of: str | None = None
        self._png_cache: tuple[Any, bytes] | None = None
        first = ExplorerState.of(state, image=image, layer=layer, stage=stage, channel=channel,
                                 view=view, cmap=cmap, contrast=contrast)
        self._update_meta()
        self.state = first
        if not self._start():
            raise ValueError(f"ActivationExplorer cannot show {self.layer!r}: {self.error}")

    def _update_meta(self) -> None:
        extra = [] if self.cmap in CMAPS else [self.cmap]
        self._meta = frontend.network_meta(self._net, list(self._net.layers), self._shelf.names,
                                           extra_cmaps=extra, upload=True)

    def _on_upload(self, content: Mapping[str, Any], buffers: list[Any]) -> None:
        """The page's upload control sent a file: ``{"event": "upload", "name": ...}``."""
        self._upload({"name": content.get("name"), "content": buffers[0] if buffers else None})

    def _follow_cmap(self, change: Any) -> None:
        if change.new not in self._meta.get("cmaps", {}):
            self._update_meta()

    # ------------------------------------------------------------------ images
    def add_image(self, name: str, image: Any, *, select: bool = True) -> str:
        """Offer another picture under ``name`` (made unique); returns the name used.

        ``image`` is anything :func:`actwidgets.load_image` reads, or a sample's name.
        """
        key = self._shelf.add(name, image)
        self._update_meta()
        if select:
            self.image = key
        return key

    @property
    def picture(self) -> np.ndarray:
        """What the network sees of the picked image: (H, W, 3) uint8 at the input size."""
        return self._shelf.picture(self.image).copy()

    def _upload(self, item: Mapping[str, Any]) -> None:
        """A file sent by the page's upload control: offered and selected, or its problem
        shown (the picture and the state stay as they were)."""
        try:
            name, rgb = read_upload(item)
            self.add_image(name, rgb)
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._report(exc, f"upload {str(item.get('name') or 'upload')!r}")

    @property
    def state(self) -> ExplorerState:
        """What is shown now, as one record (``export_html(..., state=explorer.state)``);
        set it to show another (checked as a whole first, then set in one batch)."""
        return ExplorerState(self.image, self.layer, self.stage, self.channel, self.view,  # type: ignore[arg-type]
                             self.cmap, self.contrast)

    @state.setter
    def state(self, value: ExplorerState) -> None:
        done = ExplorerState.of(value).resolved(self._net, images=self._shelf.names,
                                                owner="ActivationExplorer")
        with self.batch():
            for name in self._state_names:  # image, layer, then its stage, ...
                setattr(self, name, getattr(done, name))

    @validate("image")
    def _valid_image(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in self._shelf:
            raise traitlets.TraitError(
                f"ActivationExplorer.image: no image named {value!r}; choose one of "
                f"{', '.join(map(repr, self._shelf.names))} (or add one with add_image(name, image))"
            )
        return value

    # ------------------------------------------------------------------ data
    def _layer_acts(self) -> np.ndarray:
        """The cached, read-only (C, h, w) array of the shown layer and stage."""
        return self._stage_acts([self._shelf.picture(self.image)])[0]

    @property
    def activations(self) -> np.ndarray:
        """The (C, h, w) float32 array now shown (a copy: yours to modify)."""
        return np.array(self._layer_acts())

    def select_tile(self, x: float, y: float) -> int | None:
        """In grid view, pick the channel whose tile is at pixel ``(x, y)`` of the picture shown
        (what a click on it does); returns that channel, or None off the tiles."""
        if self.view != "grid" or not self.png:
            return None
        acts = self._layer_acts()
        layout = pixels.grid_layout(acts.shape[0], acts.shape[1:])
        k = max(1, int.from_bytes(self.png[16:20], "big") // layout.width)  # PNG width / grid width
        tile = layout.tile_at(x / k, y / k, acts.shape[0])
        if tile is not None:
            self.channel = tile
        return tile

    def select_strongest(self) -> int:
        """Select the channel with the largest activation (what the button does)."""
        self.channel = analysis.strongest_channel(self._layer_acts())
        return self.channel

    def _layer_stats(self, acts: np.ndarray) -> dict[str, Any]:
        hit = self._stats_cache.get(id(acts))
        if hit is not None and hit[0] is acts:
            return hit[1]
        per = analysis.channel_stats(acts)
        stats = {
            "min": float(per["min"].min()), "max": float(per["max"].max()),
            "frac_zero": float(per["frac_zero"].mean()),
            "channel_max": per["max"], "channel_mean": per["mean"],
        }
        if len(self._stats_cache) >= 4:  # a few layers' worth: the arrays are held
            self._stats_cache.pop(next(iter(self._stats_cache)))
        self._stats_cache[id(acts)] = (acts, stats)  # holding acts keeps its id unique
        return stats

    # ------------------------------------------------------------------ rendering
    def _view_picture(self, acts: np.ndarray) -> Any:
        c, cmap, contrast = self.channel, self.cmap, self.contrast
        if self.view == "grid":  # the same layout select_tile reads clicks with
            return pixels.render_grid(acts, selected=c, cmap=cmap, contrast=contrast)
        if acts.shape[1:] == (1, 1):  # one value per channel: a picture of one flat square
            return _parts.value_bars(acts[:, 0, 0], c)  # says nothing; bars of all do
        if self.view == "channel":
            return pixels.render_channel(acts[c], size=self._net.input_size, cmap=cmap,
                                         contrast=contrast)
        ch = acts[c]
        if contrast == "stretch":
            ch = np.clip(ch, *pixels.stretchlim(ch))
        return pixels.overlay(self._shelf.picture(self.image), ch, cmap=overlay_cmap(cmap),
                              alpha=OVERLAY_ALPHA)

    def _stats_line(self, acts: np.ndarray) -> str:
        info, c, s = self._info, self.channel, self._layer_stats(acts)
        stage = f" ({self.stage}-ReLU)" if info.has_stages else ""
        shape = "×".join(str(v) for v in acts.shape)
        if acts.shape[1:] == (1, 1):
            values = acts[:, 0, 0]
            rank = int(np.sum(values > values[c])) + 1
            channel = (f"<b>channel {c}</b>: value {_parts.fmt(float(values[c]))}, rank {rank} of "
                       f"{len(values)} (1×1 maps: one value per channel, shown as bars)")
        else:
            channel = (f"<b>channel {c}</b>: max {_parts.fmt(float(s['channel_max'][c]))}, "
                       f"mean {_parts.fmt(float(s['channel_mean'][c]))}")
        return (
            '<span style="font-family:monospace;font-size:90%">'
            f"<b>{info.name}</b>{stage} · {shape} · min {_parts.fmt(s['min'])} · "
            f"max {_parts.fmt(s['max'])} · zeros {100 * s['frac_zero']:.1f}% · {channel}</span>"
        )

    def _compute(self) -> tuple[Any, ...]:
        """The shown layer's payload when the image, layer or stage changed since it was sent
        (else None: the page draws channel, view, colormap and contrast itself), and the
        image's pixels when the image changed."""
        acts = self._layer_acts()
        key = (self.image, self.layer, self.stage)
        payload = None
        if key != self._sent:
            payload = frontend.layer_payload(acts, image=self.image, layer=self.layer, stage=self.stage,
                                             serial=next(self._serials))
        picture = None if self._picture_of == self.image else self._shelf.picture(self.image)
        return key, payload, picture

    def _apply(self, result: tuple[Any, ...]) -> None:
        key, payload, picture = result
        with widgets.Widget.hold_sync(self):  # one message
            if picture is not None:
                self._picture, self._picture_of = np.ascontiguousarray(picture).tobytes(), key[0]
            if payload is not None:
                self._layer, self._levels = payload
                self._sent = key

    # ------------------------------------------------------------------ output
    @property
    def stats(self) -> str:
        """The statistics line under the picture, as plain text."""
        return _parts.plain_text(self._stats_line(self._layer_acts()))

    @property
    def png(self) -> bytes:
        """The PNG bytes of the picture now shown (drawn in Python when asked for)."""
        key = tuple(getattr(self, n) for n in self._state_names)
        if self._png_cache is None or self._png_cache[0] != key:
            self._png_cache = (key, _parts.to_png(self._view_picture(self._layer_acts())))
        return self._png_cache[1]

    def export_html(self, path: str | os.PathLike, *, layers: Any = None, images: Any = None,
                    max_mb: float | None = None, verbose: bool = True) -> Any:
        """This explorer as one self-contained HTML page (:func:`actwidgets.export_html`),
        opening on what is shown now.

        ``layers``: names, indices or blocks (``"fire6"``; default: every layer, both stages);
        ``images``: names of this explorer's images (default: the one shown, uploads included).
        """
        from ..export import chosen_layers, export_html

        names = [self.image] if images is None else list(images)
        unknown = [n for n in names if n not in self._shelf]
        if unknown:
            raise ValueError(f"no image named {unknown[0]!r} here; choose from {self._shelf.names}")
        here = self.layer in [info.name for info in chosen_layers(self._net, layers)]
        state = dataclasses.replace(
            self.state, image=self.image if self.image in names else None,
            layer=self.layer if here else None, stage=self.stage if here else None,
            channel=self.channel if here else 0)
        return export_html(self._net, {n: self._shelf.source(n) for n in names}, layers, path,
                           state=state, max_mb=max_mb, verbose=verbose)

    def save_png(self, path: str | os.PathLike) -> Path:
        """Write the picture now shown to ``path`` (a .png file); returns the path."""
        data = self.png
        if not data:
            raise RuntimeError("nothing is shown yet")
        out = Path(path)
        if out.suffix.lower() != ".png":
            raise ValueError(f"save_png writes PNG files; give a path ending in .png, got {out.name!r}")
        out.write_bytes(data)
        return out
