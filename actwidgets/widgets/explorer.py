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
import numpy as np
import traitlets
from traitlets import Enum, Unicode, observe, validate

from .. import analysis, pixels
from ..images import SAMPLE_IMAGES, load_image, sample_image
from . import _base
from ._base import LayerExplorerBase

__all__ = ["ActivationExplorer", "VIEWS", "MAX_UPLOAD_BYTES"]

#: The three views: all channels as a grid, one channel at image size, one over the image.
VIEWS: tuple[str, ...] = ("grid", "channel", "overlay")

#: Uploads larger than this are refused before decoding.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

_OVERLAY_ALPHA = 0.5
_THUMB_WIDTH = "128px"


def _fmt(x: float) -> str:
    """A number for the stats line: 4 significant digits, a real minus sign."""
    return f"{x:.4g}".replace("-", "−")


def _overlay_cmap(cmap: str) -> str:
    """A grey scale vanishes into a photo: over the image it becomes a heat map."""
    return "jet" if cmap in ("gray", "grey", "bone") else cmap


class ActivationExplorer(LayerExplorerBase):
    """Explore the activations of every layer and channel of ``net`` for an image.

    ``images``: extra pictures to offer besides the samples, a dict name → image or a list
    (anything :func:`actwidgets.load_image` reads). The person can also upload a photo.
    The state lives in traitlets (``image``, ``layer``, ``stage``, ``channel``, ``view``,
    ``cmap``, ``contrast``): set them from code, observe them, or use the controls.
    ``explorer.activations`` is the ``(C, h, w)`` array now shown.
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
        self._sources: dict[str, Any] = {}
        self._pictures: dict[str, np.ndarray] = {}
        self._thumbs: dict[str, bytes] = {}
        self._thumb_for: str | None = None
        self._stats_cache: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
        self._add_given(images)
        for name in SAMPLE_IMAGES:
            self._sources.setdefault(name, None)  # loaded on first use

        # ---------------------------------------------------------------- controls
        names = list(self._sources)
        self._image_dd = widgets.Dropdown(
            options=names, value=names[0], description="image",
            layout=widgets.Layout(width="auto", min_width="200px"),
        )
        self._upload = widgets.FileUpload(
            accept="image/*", multiple=False, description="Upload photo",
            tooltip="Your own picture (PNG, JPEG, ...); it is resized and cropped to the input size",
        )
        self._build_layer_controls()
        self._strongest = widgets.Button(
            description="strongest channel", icon="bolt",
            tooltip="Select the channel with the largest activation",
        )
        self._view_tb = widgets.ToggleButtons(
            options=[("grid", "grid"), ("channel", "channel"), ("overlay", "overlay")],
            value=view if view in VIEWS else "grid",
            tooltips=["All channels (the selected one outlined)",
                      "The selected channel at image size",
                      "The selected channel over the image"],
            style={"button_width": "70px"},
            layout=widgets.Layout(width="auto"),
        )
        self._picture = _base.png_image()
        self._thumb = _base.png_image(width=_THUMB_WIDTH)
        self._thumb_caption = widgets.HTML("")
        self._stats = widgets.HTML("")

        self._link(self._image_dd, "image")
        self._link(self._view_tb, "view")
        self._upload.observe(self._upload_changed, "value")
        self._strongest.on_click(lambda _: self._guarded("strongest channel", self.select_strongest))

        self.children = [
            self._banner,
            widgets.HBox([self._image_dd, self._upload]),
            widgets.HBox([self._picker.box, self._stage_tb]),
            widgets.HBox([self._slider, self._strongest]),
            widgets.HBox([
                _base.labelled("view", self._view_tb), self._cmap_dd,
                _base.labelled("contrast", self._contrast_tb),
            ]),
            widgets.HBox([
                self._picture,
                widgets.VBox([self._thumb, self._thumb_caption],
                             layout=widgets.Layout(margin="0 0 0 8px")),
            ]),
            self._stats,
            self._error,
        ]

        # ---------------------------------------------------------------- state
        self.image = image if image is not None else names[0]
        self.view = view
        self._set_layer_state(layer, stage, channel, cmap, contrast)
        self._ready = True
        if not self._render():
            raise ValueError(f"ActivationExplorer cannot show {self.layer!r}: {self.error}")

    # ------------------------------------------------------------------ images
    def _add_given(self, images: Any) -> None:
        if images is None:
            return
        if isinstance(images, Mapping):
            items = [(str(k), v) for k, v in images.items()]
        elif isinstance(images, (list, tuple)):
            items = []
            for i, v in enumerate(images):
                if isinstance(v, (str, os.PathLike)) and not (isinstance(v, str) and v in SAMPLE_IMAGES):
                    items.append((Path(v).name, v))
                elif isinstance(v, str):
                    items.append((v, v))
                else:
                    items.append((f"image {i + 1}", v))
        else:
            items = [("image", images)]
        for name, source in items:
            self.add_image(name, source, select=False)

    def _unique(self, name: str) -> str:
        if name not in self._sources:
            return name
        k = 2
        while f"{name} ({k})" in self._sources:
            k += 1
        return f"{name} ({k})"

    def add_image(self, name: str, image: Any, *, select: bool = True) -> str:
        """Offer another picture under ``name`` (made unique); returns the name used.

        ``image`` is anything :func:`actwidgets.load_image` reads, or a sample's name.
        """
        name = self._unique(str(name) or "image")
        picture = self._net.image(_base.resolve_image(image))
        self._sources[name] = image
        self._pictures[name] = picture
        if hasattr(self, "_image_dd"):
            self._set_options(self._image_dd, list(self._sources), self.image)
            if select:
                self.image = name
        return name

    def _picture_of(self, name: str) -> np.ndarray:
        picture = self._pictures.get(name)
        if picture is None:
            picture = self._net.image(sample_image(name))
            self._pictures[name] = picture
        return picture

    @property
    def picture(self) -> np.ndarray:
        """What the network sees of the picked image: (H, W, 3) uint8 at the input size."""
        return self._picture_of(self.image).copy()

    def _upload_changed(self, change: Any) -> None:
        files = change.new
        if not files:
            return
        item = files[-1]
        name = str(item.get("name") or "upload")
        try:
            content = item.get("content")
            if content is None:
                raise ValueError("the upload holds no file content")
            size = len(content) if not isinstance(content, memoryview) else content.nbytes
            if size > MAX_UPLOAD_BYTES:
                raise ValueError(
                    f"{name} is {size / 2**20:.0f} MiB, more than the {MAX_UPLOAD_BYTES // 2**20} "
                    "MiB an upload may have; resize or compress it first"
                )
            picture = self._net.image(load_image(bytes(content)))
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._report(exc, f"upload {name!r}")
            return
        finally:
            with self._upload.hold_sync():
                self._upload.value = ()  # so the same file can be uploaded again
        key = self._unique(name)
        self._sources[key] = None
        self._pictures[key] = picture
        self._set_options(self._image_dd, list(self._sources), self.image)
        self.image = key

    # ------------------------------------------------------------------ validation
    @validate("image")
    def _valid_image(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in self._sources:
            raise traitlets.TraitError(
                f"ActivationExplorer.image: no image named {value!r}; choose one of "
                f"{', '.join(map(repr, self._sources))} (or add one with add_image(name, image))"
            )
        return value

    # ------------------------------------------------------------------ observers
    @observe("image")
    def _update_image(self, change: Any) -> None:
        self._sync(self._image_dd, change.new)
        self._request_render()

    @observe("view")
    def _update_view(self, change: Any) -> None:
        self._sync(self._view_tb, change.new)
        self._request_render()

    # ------------------------------------------------------------------ data
    def _layer_acts(self) -> np.ndarray:
        """The cached, read-only (C, h, w) array of the shown layer and stage."""
        return self._stage_acts([self._picture_of(self.image)])[0]

    @property
    def activations(self) -> np.ndarray:
        """The (C, h, w) float32 array now shown (a copy: yours to modify)."""
        return np.array(self._layer_acts())

    def select_strongest(self) -> int:
        """Select the channel with the largest activation (what the button does)."""
        self.channel = analysis.strongest_channel(self._layer_acts())
        return self.channel

    def _layer_stats(self, acts: np.ndarray) -> dict[str, Any]:
        key = id(acts)
        hit = self._stats_cache.get(key)
        if hit is not None and hit[0] is acts:
            return hit[1]
        per = analysis.channel_stats(acts)
        stats = {
            "min": float(per["min"].min()),
            "max": float(per["max"].max()),
            "frac_zero": float(per["frac_zero"].mean()),
            "channel_max": per["max"],
            "channel_mean": per["mean"],
        }
        if len(self._stats_cache) >= 4:  # a few layers' worth: the arrays are held
            self._stats_cache.pop(next(iter(self._stats_cache)))
        self._stats_cache[key] = (acts, stats)  # holding acts keeps its id unique
        return stats

    # ------------------------------------------------------------------ rendering
    def _compute(self) -> tuple[bytes, str, str]:
        info = self._info
        acts = self._layer_acts()
        c = self.channel
        if self.view == "grid":
            rgb = pixels.render_grid(acts, selected=c, cmap=self.cmap, contrast=self.contrast)
        elif self.view == "channel":
            rgb = pixels.render_channel(
                acts[c], size=self._net.input_size, cmap=self.cmap, contrast=self.contrast
            )
        else:
            ch = acts[c]
            if self.contrast == "stretch":
                lo, hi = pixels.stretchlim(ch)
                ch = np.clip(ch, lo, hi)
            rgb = pixels.overlay(
                self._picture_of(self.image), ch, cmap=_overlay_cmap(self.cmap),
                alpha=_OVERLAY_ALPHA,
            )
        png = _base.to_png(rgb)
        s = self._layer_stats(acts)
        stage = f" ({self.stage}-ReLU)" if info.has_stages else ""
        shape = "×".join(str(v) for v in acts.shape)
        stats = (
            '<span style="font-family:monospace;font-size:90%">'
            f"<b>{info.name}</b>{stage} · {shape} · min {_fmt(s['min'])} · "
            f"max {_fmt(s['max'])} · zeros {100 * s['frac_zero']:.1f}% · "
            f"<b>channel {c}</b>: max {_fmt(float(s['channel_max'][c]))}, "
            f"mean {_fmt(float(s['channel_mean'][c]))}</span>"
        )
        return png, stats, self.image

    def _apply(self, result: tuple[bytes, str, str]) -> None:
        png, stats, image = result
        self._picture.value = png
        self._stats.value = stats
        if self._thumb_for != image:
            thumb = self._thumbs.get(image)
            if thumb is None:
                thumb = pixels.to_png(self._picture_of(image))
                self._thumbs[image] = thumb
            self._thumb.value = thumb
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
