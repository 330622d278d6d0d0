"""``ActivationExplorer``: every layer and channel of a network, before and after its ReLU.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> explorer = aw.ActivationExplorer(net)           # display(explorer) in a notebook
>>> explorer.layer = "fire6-relu_squeeze1x1"; explorer.channel = 13
>>> explorer.activations.shape
(48, 14, 14)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from ipyevents import Event
import numpy as np
import traitlets
from traitlets import Enum, Unicode, validate

from .. import analysis, pixels
from ..pixels.views import OVERLAY_ALPHA, VIEWS, overlay_cmap
from . import _parts
from ._layered import LayerExplorerBase
from ._shelf import MAX_UPLOAD_BYTES, ImageShelf, read_upload

__all__ = ["ActivationExplorer", "VIEWS", "MAX_UPLOAD_BYTES"]

_THUMB_WIDTH = "128px"


class ActivationExplorer(LayerExplorerBase):
    """Explore the activations of every layer and channel of ``net`` for an image.

    ``images``: extra pictures to offer besides the samples, a dict name → image or a list
    (anything :func:`actwidgets.load_image` reads). The person can also upload a photo.
    The state lives in traitlets (``image``, ``layer``, ``stage``, ``channel``, ``view``,
    ``cmap``, ``contrast``): set them from code, observe them, or use the controls
    (``explorer.controls``: those names, plus ``layer_group``, ``upload`` and ``strongest``).
    ``explorer.activations`` is the ``(C, h, w)`` array now shown, ``explorer.png`` the
    picture. A layer whose maps are 1×1 (a global pool, a linear layer) has one value per
    channel: its channel and overlay views show all channels' values as bars, the selected
    one highlighted, and the statistics line gives its value and rank.
    """

    image = Unicode(help="Name of the picked image: a sample, one passed in, or an upload")
    view = Enum(VIEWS, "grid", help='"grid": all channels; "channel": one at image size; "overlay": one over the image')

    _state_names = ("image", "layer", "stage", "channel", "view", "cmap", "contrast")
    _repr_names = ("image", "layer", "stage", "channel", "view")

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
    ) -> None:
        super().__init__(net)
        self._shelf = ImageShelf(self._net)
        self._shelf.add_given(images)
        self._shelf.add_samples()
        self._stats_cache: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self._thumb_for: str | None = None
        self._build_controls(view)
        self.image = image if image is not None else self._shelf.names[0]
        self.view = view
        self._set_layer_state(layer, stage, channel, cmap, contrast)
        if not self._start():
            raise ValueError(f"ActivationExplorer cannot show {self.layer!r}: {self.error}")

    def _build_controls(self, view: str) -> None:
        names = self._shelf.names
        image_dd = widgets.Dropdown(options=names, value=names[0], description="image",
                                    layout=widgets.Layout(width="auto", min_width="200px"))
        upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="Upload photo",
            tooltip="Your own picture (PNG, JPEG, ...); it is resized and cropped to the input size",
        )
        self._build_layer_controls()
        strongest = widgets.Button(description="strongest channel", icon="bolt",
                                   tooltip="Select the channel with the largest activation")
        view_tb = widgets.ToggleButtons(
            options=list(VIEWS), value=view if view in VIEWS else "grid",
            tooltips=["All channels (the selected one outlined)",
                      "The selected channel at image size", "The selected channel over the image"],
            style={"button_width": "70px"}, layout=widgets.Layout(width="auto"),
        )
        self._picture = _parts.png_image()
        self._thumb = _parts.png_image(width=_THUMB_WIDTH)
        self._thumb_caption = widgets.HTML("")
        self._stats = widgets.HTML("")
        self._link("image", image_dd)
        self._link("view", view_tb)
        self._controls.update(upload=upload, strongest=strongest)
        # A click on a grid tile picks its channel (ipyevents: the click's pixel in the PNG).
        self._clicks = Event(source=self._picture, watched_events=["click"])
        self._clicks.on_dom_event(
            lambda e: self._guarded("click", self.select_tile, e.get("dataX", -1), e.get("dataY", -1)))
        upload.observe(self._upload_changed, "value")
        strongest.on_click(lambda _: self._guarded("strongest channel", self.select_strongest))
        c = self._controls
        self.children = [
            self._banner,
            widgets.HBox([image_dd, upload]),
            widgets.HBox([self._picker.box, c["stage"]]),
            widgets.HBox([c["channel"], strongest]),
            widgets.HBox([_parts.labelled("view", view_tb), c["cmap"],
                          _parts.labelled("contrast", c["contrast"])]),
            widgets.HBox([self._picture, widgets.VBox(
                [self._thumb, self._thumb_caption], layout=widgets.Layout(margin="0 0 0 8px"))]),
            self._stats,
            self._error,
        ]

    # ------------------------------------------------------------------ images
    def add_image(self, name: str, image: Any, *, select: bool = True) -> str:
        """Offer another picture under ``name`` (made unique); returns the name used.

        ``image`` is anything :func:`actwidgets.load_image` reads, or a sample's name.
        """
        key = self._shelf.add(name, image)
        self._set_options(self._controls["image"], self._shelf.names, self.image)
        if select:
            self.image = key
        return key

    @property
    def picture(self) -> np.ndarray:
        """What the network sees of the picked image: (H, W, 3) uint8 at the input size."""
        return self._shelf.picture(self.image).copy()

    def _upload_changed(self, change: Any) -> None:
        """A file from the FileUpload: offered and selected, or its problem shown (the
        picture and the state stay as they were)."""
        if not change.new:
            return
        item = change.new[-1]
        try:
            name, rgb = read_upload(item)
            self.add_image(name, rgb)
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._report(exc, f"upload {str(item.get('name') or 'upload')!r}")
        finally:
            upload = self._controls["upload"]
            with upload.hold_sync():
                upload.value = ()  # so the same file can be uploaded again

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

    def _compute(self) -> tuple[bytes, str, str]:
        acts = self._layer_acts()
        png = _parts.to_png(self._view_picture(acts))
        return png, self._stats_line(acts), self.image

    def _apply(self, result: tuple[bytes, str, str]) -> None:
        png, stats, image = result
        self._picture.value = png
        self._stats.value = stats
        if self._thumb_for != image:
            self._thumb.value = self._shelf.thumbnail(image)
            h, w = self._net.input_size
            self._thumb_caption.value = (
                f'<span style="font-size:85%">what {self._net.name} sees ({h}×{w})</span>'
            )
            self._thumb_for = image

    # ------------------------------------------------------------------ output
    @property
    def png(self) -> bytes:
        """The PNG bytes of the picture now shown."""
        return bytes(self._picture.value)

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
        start_here = self.layer in [info.name for info in chosen_layers(self._net, layers)]
        return export_html(
            self._net, {n: self._shelf.source(n) for n in names}, layers, path,
            image=self.image if self.image in names else None,
            layer=self.layer if start_here else None, stage=self.stage if start_here else None,
            channel=self.channel if start_here else 0, view=self.view, cmap=self.cmap,
            contrast=self.contrast, max_mb=max_mb, verbose=verbose,
        )

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
