"""``CompareExplorer``: one layer, stage and channel for two images side by side, with their
difference: MATLAB's open-eye versus closed-eye experiment in one widget.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> cmp = aw.CompareExplorer(net, "face", "face_eye_closed", labels=("open", "closed"))
>>> cmp.layer = "fire6-relu_squeeze1x1"; cmp.channel = 13
>>> cmp.difference.shape
(14, 14)
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np

from .. import pixels
from . import _parts
from ._layered import LayerExplorerBase

__all__ = ["CompareExplorer"]

#: Colour map of the difference: blue where B is below A, red where it is above.
DIFF_CMAP = "RdBu_r"
_THUMB_WIDTH = "112px"


class CompareExplorer(LayerExplorerBase):
    """The same layer, stage and channel for ``image_a`` and ``image_b``, and ``B − A``.

    Both maps are normalised with the SAME limits (``contrast``: min-max, or the percentile
    stretch, over both images together), so their brightness compares honestly; the
    difference uses a diverging colour map centred on zero. ``labels`` name the two images.
    The state (``layer``, ``stage``, ``channel``, ``cmap``, ``contrast``) lives in traitlets.
    Images are anything :func:`actwidgets.load_image` reads, or a sample's name. Controls:
    ``compare.controls`` (``layer``, ``layer_group``, ``stage``, ``channel``, ``cmap``,
    ``contrast``, ``largest``); ``compare.pngs`` are the three pictures shown.
    """

    _state_names = ("layer", "stage", "channel", "cmap", "contrast")
    _repr_names = ("layer", "stage", "channel")

    def __init__(
        self,
        net: Any,
        image_a: Any,
        image_b: Any,
        *,
        labels: Sequence[str] = ("A", "B"),
        layer: str | None = None,
        stage: str | None = None,
        channel: int = 0,
        cmap: str = "gray",
        contrast: str = "minmax",
    ) -> None:
        super().__init__(net)
        if isinstance(labels, str) or len(labels) != 2:
            raise ValueError(f"labels must be two names, such as ('open', 'closed'), got {labels!r}")
        self.labels = (str(labels[0]), str(labels[1]))
        self._pictures = (
            net.image(image_a),
            net.image(image_b),
        )

        self._build_controls()
        self._set_layer_state(layer, stage, channel, cmap, contrast)
        if not self._start():
            raise ValueError(f"CompareExplorer cannot show {self.layer!r}: {self.error}")

    def _build_controls(self) -> None:
        self._build_layer_controls()
        largest = self._controls["largest"] = widgets.Button(
            description="largest difference", icon="search",
            tooltip="Select the channel whose two maps differ most (largest max |B − A|)",
            layout=widgets.Layout(width="auto"),
        )
        self._images = [_parts.png_image() for _ in range(3)]
        self._captions = [widgets.HTML("") for _ in range(3)]
        thumbs = [_parts.png_image(width=_THUMB_WIDTH) for _ in range(2)]
        for thumb, picture in zip(thumbs, self._pictures):
            thumb.value = pixels.to_png(picture)
        self._stats = widgets.HTML("")
        largest.on_click(
            lambda _: self._guarded("largest difference", self.select_largest_difference)
        )

        names = [html.escape(s) for s in self.labels]
        c = self._controls
        self.children = [
            self._banner,
            widgets.HBox([
                widgets.VBox([widgets.HTML(f"<b>{names[i]}</b>"), thumbs[i]],
                             layout=widgets.Layout(margin="0 12px 0 0"))
                for i in range(2)
            ]),
            widgets.HBox([self._picker.box, c["stage"]]),
            widgets.HBox([c["channel"], largest]),
            widgets.HBox([_parts.labelled("contrast", c["contrast"]), c["cmap"]]),
            widgets.HBox([
                widgets.VBox([self._captions[i], self._images[i]],
                             layout=widgets.Layout(margin="0 8px 0 0"))
                for i in range(3)
            ]),
            self._stats,
            self._error,
        ]

    # ------------------------------------------------------------------ data
    def _layer_acts(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = self._stage_acts(self._pictures)
        return a, b

    @property
    def pictures(self) -> tuple[np.ndarray, np.ndarray]:
        """What the network sees of the two images: (H, W, 3) uint8 each (copies)."""
        return self._pictures[0].copy(), self._pictures[1].copy()

    @property
    def activations(self) -> tuple[np.ndarray, np.ndarray]:
        """The (C, h, w) arrays of the shown layer for image A and image B (copies)."""
        a, b = self._layer_acts()
        return np.array(a), np.array(b)

    @property
    def difference(self) -> np.ndarray:
        """B − A for the shown channel, (h, w) float32."""
        a, b = self._layer_acts()
        return np.subtract(b[self.channel], a[self.channel], dtype=np.float32)

    @property
    def max_abs_difference(self) -> float:
        """max |B − A| over the shown channel."""
        return float(np.max(np.abs(self.difference)))

    def select_largest_difference(self) -> int:
        """Select the channel whose two maps differ most (what the button does)."""
        a, b = self._layer_acts()
        diff = np.abs(np.subtract(b, a, dtype=np.float32)).reshape(a.shape[0], -1)
        self.channel = int(np.argmax(diff.max(axis=1)))
        return self.channel

    # ------------------------------------------------------------------ rendering
    def _compute(self) -> tuple[list[bytes], list[str], str]:
        info = self._info
        acts_a, acts_b = self._layer_acts()
        c = self.channel
        a, b = acts_a[c], acts_b[c]
        size = self._net.input_size
        limits = _parts.limits_of([a, b], self.contrast)
        maps = [
            pixels.render_channel(x, size=size, cmap=self.cmap, contrast=self.contrast, limits=limits)
            for x in (a, b)
        ]
        diff = np.subtract(b, a, dtype=np.float32)
        peak = float(np.max(np.abs(diff)))
        big = pixels.resize(diff, size, method="bilinear")
        maps.append(pixels.diverging(big, DIFF_CMAP, vmax=peak))
        pngs = [_parts.to_png(m) for m in maps]

        la, lb = (html.escape(s) for s in self.labels)
        stage = f" ({self.stage}-ReLU)" if info.has_stages else ""
        captions = [
            f"<b>{la}</b> · channel {c}",
            f"<b>{lb}</b> · channel {c}",
            f"<b>{lb} − {la}</b> · <span style='color:#2166ac'>blue &lt; 0</span> &lt; "
            f"<span style='color:#b2182b'>red</span>",
        ]
        stats = (
            '<span style="font-family:monospace;font-size:90%">'
            f"<b>{html.escape(info.name)}</b>{stage} · channel {c} · one scale for both: "
            f"[{_parts.fmt(limits[0])}, {_parts.fmt(limits[1])}] · "
            f"<b>{la}</b>: max {_parts.fmt(float(a.max()))}, mean {_parts.fmt(float(a.mean()))} · "
            f"<b>{lb}</b>: max {_parts.fmt(float(b.max()))}, mean {_parts.fmt(float(b.mean()))} · "
            f"<b>max |Δ|</b> {_parts.fmt(peak)}</span>"
        )
        return pngs, captions, stats

    def _apply(self, result: tuple[list[bytes], list[str], str]) -> None:
        pngs, captions, stats = result
        for image, png in zip(self._images, pngs):
            image.value = png
        for caption, text in zip(self._captions, captions):
            caption.value = text
        self._stats.value = stats

    @property
    def pngs(self) -> tuple[bytes, bytes, bytes]:
        """PNG bytes now shown: image A's map, image B's map, their difference."""
        return tuple(bytes(i.value) for i in self._images)  # type: ignore[return-value]

    def _repr_state(self) -> str:
        return f"labels={self.labels!r}, " + super()._repr_state()
