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

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import numpy as np
from traitlets import Bytes, Dict

from .. import frontend, pixels
from ..pixels.contrast import STRETCH_TOL
from ..pixels.views import CMAPS, fmt
from . import _parts
from ._layered import LayerState
from ._page import PageWidget

__all__ = ["CompareExplorer", "CompareTables", "compare_tables"]

#: Colour map of the difference: blue where B is below A, red where it is above.
DIFF_CMAP = "RdBu_r"
#: The maps travel as 16-bit levels of each channel's shared [min, max].
LEVELS = 65535


@dataclass(frozen=True)
class CompareTables:
    """One layer of two images, per channel: the shared limits of both maps (min-max and
    percentile), the largest |B − A|, and the maps as 16-bit levels of [min, max]."""

    limits: np.ndarray  # (C, 2) float64: min and max over both images
    stretch: np.ndarray  # (C, 2) float64: the 1 % and 99 % quantiles over both images
    peak: np.ndarray  # (C,) float32: max |B − A|
    levels: tuple[np.ndarray, np.ndarray]  # (C, h, w) uint16 of A and B
    stats: np.ndarray  # (C, 4) float64: max and mean of A, max and mean of B

    def scale(self, c: int, contrast: str) -> tuple[float, float]:
        """The (lo, hi) both maps of channel ``c`` are drawn with."""
        lo, hi = (self.stretch if contrast == "stretch" else self.limits)[c]
        return float(lo), float(hi)


def _span(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.where(hi > lo, hi, lo + 1.0)  # a constant map: any span draws it as the lowest colour


def compare_tables(a: np.ndarray, b: np.ndarray) -> CompareTables:
    """The tables of two (C, h, w) maps: each channel's limits over both images together.

    >>> t = compare_tables(np.zeros((1, 2, 2), np.float32), np.ones((1, 2, 2), np.float32))
    >>> t.limits.tolist(), int(t.levels[1].max()), float(t.peak[0])
    ([[0.0, 1.0]], 65535, 1.0)
    """
    c = a.shape[0]
    both = np.concatenate([a.reshape(c, -1), b.reshape(c, -1)], axis=1).astype(np.float32, copy=False)
    lo, hi = both.min(axis=1).astype(np.float64), both.max(axis=1).astype(np.float64)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise ValueError("the activations contain NaN or inf")
    tol = STRETCH_TOL
    q = np.quantile(both, [tol, 1.0 - tol], axis=1).astype(np.float64)
    same = q[0] >= q[1]
    slo, shi = np.where(same, lo, q[0]), np.where(same, hi, q[1])
    hi = _span(lo, hi)
    span = (hi - lo)[:, None, None]

    def levels(x: np.ndarray) -> np.ndarray:
        t = (x.astype(np.float64) - lo[:, None, None]) / span * LEVELS
        return np.clip(np.floor(t + 0.5), 0, LEVELS).astype(np.uint16)

    peak = np.abs(np.subtract(b, a, dtype=np.float32)).reshape(c, -1).max(axis=1)
    fa, fb = (x.reshape(c, -1).astype(np.float64) for x in (a, b))
    stats = np.stack([fa.max(axis=1), fa.mean(axis=1), fb.max(axis=1), fb.mean(axis=1)], axis=1)
    return CompareTables(np.stack([lo, hi], 1), np.stack([slo, _span(slo, shi)], 1),
                         peak.astype(np.float32), (levels(a), levels(b)), stats)


def _joined(values: Any) -> str:
    return " ".join(fmt(float(v)) for v in values)


class CompareExplorer(LayerState, PageWidget):
    """The same layer, stage and channel for ``image_a`` and ``image_b``, and ``B − A``.

    Both maps are normalised with the SAME limits (``contrast``: min-max, or the percentile
    stretch, over both images together), so their brightness compares honestly; the
    difference uses a diverging colour map centred on zero. ``labels`` name the two images.
    The state (``layer``, ``stage``, ``channel``, ``cmap``, ``contrast``) lives in traitlets,
    synced with the page (an ES module, :mod:`actwidgets.frontend`), which draws the pictures:
    the kernel sends both images' maps of the layer once per layer or stage change (16-bit
    levels and each channel's limits), and channel, colormap and contrast changes are drawn in
    the browser. Images are anything :func:`actwidgets.load_image` reads, or a sample's name.
    ``compare.pngs`` are the three pictures shown (drawn in Python on demand);
    :meth:`select_largest_difference` is the page's *largest difference* button.
    """

    _esm = frontend.module_text("draw.js", "controls.js", "compare.js")
    _css = frontend.stylesheet("explorer.css", "compare.css")

    _meta = Dict(help="The network, its layers and groups, the two labels, colour tables").tag(sync=True)
    _layer = Dict(help="The shown layer: layer, stage, shape, the stats line's numbers").tag(sync=True)
    _levels = Bytes(
        help="Both images' 16-bit levels of the layer, then float32 limits per channel").tag(sync=True)
    _pictures = Bytes(
        help="The two images' (H, W, 3) uint8 pixels at the input size, A then B").tag(sync=True)

    _state_names = ("layer", "stage", "channel", "cmap", "contrast")
    _repr_names = ("layer", "stage", "channel")
    _serials = itertools.count(1)

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
        self._pictures_rgb = (net.image(image_a), net.image(image_b))
        self._pictures = b"".join(np.ascontiguousarray(p).tobytes() for p in self._pictures_rgb)
        self._sent: tuple[str, str] | None = None
        self._tables_cache: tuple[Any, CompareTables] | None = None
        self._png_cache: tuple[Any, tuple[bytes, bytes, bytes]] | None = None
        self._update_meta(cmap)
        self._set_layer_state(layer, stage, channel, cmap, contrast)
        if not self._start():
            raise ValueError(f"CompareExplorer cannot show {self.layer!r}: {self.error}")

    def _update_meta(self, cmap: str) -> None:
        extra = [DIFF_CMAP] + ([] if cmap in CMAPS else [cmap])
        self._meta = frontend.network_meta(self._net, list(self._net.layers), list(self.labels),
                                           extra_cmaps=extra)

    def _follow_cmap(self, change: Any) -> None:
        if change.new not in self._meta.get("cmaps", {}):
            self._update_meta(change.new)

    # ------------------------------------------------------------------ data
    def _layer_acts(self) -> tuple[np.ndarray, np.ndarray]:
        a, b = self._stage_acts(self._pictures_rgb)
        return a, b

    def _tables(self) -> CompareTables:
        a, b = self._layer_acts()
        hit = self._tables_cache
        if hit is None or hit[0][0] is not a or hit[0][1] is not b:
            hit = self._tables_cache = ((a, b), compare_tables(a, b))  # holding a, b keeps ids unique
        return hit[1]

    @property
    def pictures(self) -> tuple[np.ndarray, np.ndarray]:
        """What the network sees of the two images: (H, W, 3) uint8 each (copies)."""
        return self._pictures_rgb[0].copy(), self._pictures_rgb[1].copy()

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
        """``max |B − A|`` over the shown channel."""
        return float(np.max(np.abs(self.difference)))

    def select_largest_difference(self) -> int:
        """Select the channel whose two maps differ most (what the button does)."""
        self.channel = int(np.argmax(self._tables().peak))
        return self.channel

    # ------------------------------------------------------------------ the page
    def _compute(self) -> tuple[tuple[str, str], Any]:
        """The layer's payload when the layer or stage changed since it was sent (else None:
        the page draws channel, colormap and contrast itself)."""
        key = (self.layer, self.stage)
        tables = self._tables()
        if key == self._sent:
            return key, None
        columns = {"lo": tables.limits[:, 0], "hi": tables.limits[:, 1], "slo": tables.stretch[:, 0],
                   "shi": tables.stretch[:, 1], "peak": tables.peak,
                   **{k: tables.stats[:, i] for i, k in enumerate(("amax", "amean", "bmax", "bmean"))}}
        meta = {"layer": self.layer, "stage": self.stage, "serial": next(self._serials),
                "shape": list(tables.levels[0].shape), "levels": LEVELS,
                "stats": {k: _joined(v) for k, v in columns.items()}}
        numbers = np.concatenate([tables.limits, tables.stretch, tables.peak[:, None]], axis=1)
        data = b"".join([tables.levels[0].astype("<u2").tobytes(), tables.levels[1].astype("<u2").tobytes(),
                         numbers.astype("<f4").tobytes()])
        return key, (meta, data)

    def _apply(self, result: tuple[tuple[str, str], Any]) -> None:
        key, payload = result
        if payload is not None:
            with widgets.Widget.hold_sync(self):  # one message
                self._layer, self._levels = payload
            self._sent = key

    # ------------------------------------------------------------------ output
    def _maps(self) -> list[np.ndarray]:
        """The three pictures shown: A's map, B's map (one scale), B − A (RdBu_r around 0)."""
        a, b = self._layer_acts()
        t, c, size = self._tables(), self.channel, self._net.input_size
        limits = t.scale(c, self.contrast)
        maps = [np.asarray(pixels.render_channel(x[c], size=size, cmap=self.cmap, limits=limits))
                for x in (a, b)]
        big = pixels.resize(np.subtract(b[c], a[c], dtype=np.float32), size, method="bilinear")
        maps.append(pixels.diverging(big, DIFF_CMAP, vmax=float(t.peak[c])))
        return maps

    @property
    def pngs(self) -> tuple[bytes, bytes, bytes]:
        """PNG bytes now shown: image A's map, image B's map, their difference."""
        key = tuple(getattr(self, n) for n in self._state_names)
        if self._png_cache is None or self._png_cache[0] != key:
            self._png_cache = (key, tuple(_parts.to_png(m) for m in self._maps()))  # type: ignore[assignment]
        return self._png_cache[1]  # type: ignore[index]

    @property
    def png(self) -> bytes:
        """The three pictures side by side, 8 px apart (what a static renderer shows)."""
        maps = self._maps()
        gap = np.full((maps[0].shape[0], 8, 3), 255, np.uint8)
        return _parts.to_png(np.concatenate([maps[0], gap, maps[1], gap, maps[2]], axis=1))

    @property
    def stats(self) -> str:
        """The statistics line under the pictures, as plain text (as the page writes it)."""
        t, c, info = self._tables(), self.channel, self._info
        lo, hi = t.scale(c, self.contrast)
        amax, amean, bmax, bmean = (fmt(float(v)) for v in t.stats[c])
        stage = f" ({self.stage}-ReLU)" if info.has_stages else ""
        la, lb = self.labels
        return (f"{info.name}{stage} · channel {c} · one scale for both: [{fmt(lo)}, {fmt(hi)}] · "
                f"{la}: max {amax}, mean {amean} · {lb}: max {bmax}, mean {bmean} · "
                f"max |Δ| {fmt(float(t.peak[c]))}")

    def _repr_state(self) -> str:
        return f"labels={self.labels!r}, " + super()._repr_state()
