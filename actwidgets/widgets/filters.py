"""``FilterExplorer``: a conv layer's learned filters, one filter's weights per input channel,
and the magnitude of its 2-D frequency response (what MATLAB's freqz2 shows in the GoogLeNet
blog).

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> fx = aw.FilterExplorer(net, "conv1")
>>> fx.filter = 5; fx.input_channel = 1      # filter 5, green input channel
>>> fx.weights.shape
(64, 3, 3, 3)
"""

from __future__ import annotations

import itertools
from typing import Any

import ipywidgets as widgets
import numpy as np
from torch import nn
from traitlets import Bytes, Dict, Int, Unicode, validate

from .. import frontend, pixels
from .._torch_compat import version as tensor_version
from ..model.layers import LayerInfo
from ..pixels.views import CMAPS
from . import _filterviews as views
from . import _parts
from ._filterviews import NotAConvError, conv_module
from ._page import PageWidget

__all__ = ["FilterExplorer", "NotAConvError", "conv_module"]


def _channel_name(i: int, inputs: int) -> str:
    return "RGB"[i] if inputs == 3 else str(i)


class FilterExplorer(PageWidget):
    """The learned filters of a conv layer of ``net``.

    Top: every filter as a tile (first-layer filters as RGB pictures; deeper ones as their
    mean over the input channels), the selected one outlined. Below: the selected filter's
    weights, one enlarged kernel per input channel (blue negative, red positive, one scale),
    and the magnitude of its 2-D frequency response (:func:`actwidgets.analysis.freqz2`,
    DC in the middle, ±1 the Nyquist frequency) for every input channel or the chosen one.
    State: ``layer``, ``filter``, ``input_channel`` (-1: all), ``cmap``, synced with the page
    (an ES module, :mod:`actwidgets.frontend`): the kernel sends a layer's weights and its
    filter tiles once per layer change, and the page draws the pictures (a click on a tile
    picks its filter). ``pngs`` and ``captions`` are what is shown (drawn in Python on demand).
    """

    _esm = frontend.module_text("draw.js", "controls.js", "filters.js")
    _css = frontend.stylesheet("explorer.css", "compare.css")

    layer = Unicode(help="Name of the conv layer whose filters are shown").tag(sync=True)
    filter = Int(0, help="The selected filter (output channel), 0..filters-1").tag(sync=True)
    input_channel = Int(-1, help="Input channel of the frequency response; -1 shows every one").tag(sync=True)
    cmap = Unicode("viridis", help="Matplotlib colormap of the frequency response").tag(sync=True)
    _meta = Dict(help="The network, its conv layers and their groups, colour tables").tag(sync=True)
    _layer = Dict(help="The shown layer: name, conv, weight shape, the tiles' geometry").tag(sync=True)
    _data = Bytes(help="The filter tiles' RGB, then float32 weights and bias").tag(sync=True)

    _state_names = ("layer", "filter", "input_channel", "cmap")
    _serials = itertools.count(1)

    def __init__(
        self,
        net: Any,
        layer: str | None = None,
        *,
        filter: int = 0,  # noqa: A002 - the trait's name
        input_channel: int = -1,
        cmap: str = "viridis",
    ) -> None:
        super().__init__(net)
        self.add_class("aw-explorer")
        self._convs = views.conv_layers(self._net)
        self._infos = {conv.name: conv for conv in self._convs}
        self._weights_of = views.Weights()
        self._tiles_cache: dict[tuple[str, int], tuple[np.ndarray, int]] = {}
        self._sent: tuple[str, int] | None = None
        if layer is None:
            if not self._convs:
                raise NotAConvError(f"{net.name} has no conv layers: FilterExplorer has nothing to show")
            layer = self._convs[0].name
        info = self._check_layer(layer)  # before anything else: a pool layer fails clearly
        self._update_meta(cmap)
        self.layer = info.name
        self.filter = filter
        self.input_channel = input_channel
        self.cmap = cmap
        if not self._start():
            raise ValueError(f"FilterExplorer cannot show {self.layer!r}: {self.error}")

    def _update_meta(self, cmap: str) -> None:
        extra = [views.WEIGHT_CMAP] + ([] if cmap in CMAPS else [cmap])
        self._meta = {**frontend.network_meta(self._net, self._convs, [], extra_cmaps=extra),
                      "weights": views.WEIGHT_CMAP, **views.PAGE_SIZES}

    def _follow_cmap(self, change: Any) -> None:
        if change.new not in self._meta.get("cmaps", {}):
            self._update_meta(change.new)

    # ------------------------------------------------------------------ validation
    def _check_layer(self, name: Any) -> LayerInfo:
        if isinstance(name, LayerInfo):
            name = name.name
        info = _parts.check_layer_name(self._net, name, "FilterExplorer")
        if info.name not in self._infos:
            conv_module(self._net, info)  # raises NotAConvError with the conv layers
            self._infos[info.name] = info  # pragma: no cover - a conv conv_layers missed
        return self._infos[info.name]

    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return self._check_layer(proposal["value"]).name

    @validate("filter")
    def _valid_filter(self, proposal: Any) -> int:
        o = self.conv.out_channels if self.layer else 1 << 30
        return _parts.check_index("FilterExplorer", "filter", proposal["value"], o, repr(self.layer))

    @validate("input_channel")
    def _valid_input(self, proposal: Any) -> int:
        value = proposal["value"]
        if value == -1 and not isinstance(value, bool):
            return -1
        i = self._weights.shape[1] if self.layer else 1 << 30
        return _parts.check_index("FilterExplorer", "input_channel", value, i,
                                  f"{self.layer!r} (input side)")

    @validate("cmap")
    def _valid_cmap(self, proposal: Any) -> str:
        return _parts.check_cmap("FilterExplorer", proposal["value"])

    def _follow_layer(self, change: Any) -> None:
        o, i = self._weights.shape[:2]
        if not self._restoring:
            if self.filter >= o:
                self.filter = o - 1
            if self.input_channel >= i:
                self.input_channel = -1

    # ------------------------------------------------------------------ data
    @property
    def conv(self) -> nn.Conv2d:
        """The ``nn.Conv2d`` whose filters are shown."""
        return conv_module(self._net, self._infos[self.layer])[1]

    @property
    def _weights(self) -> np.ndarray:
        return self._weights_of.of(self.layer, self.conv)[0]

    @property
    def weights(self) -> np.ndarray:
        """The layer's weights, (filters, inputs, kh, kw) float32 (a copy)."""
        return np.array(self._weights)

    @property
    def frequency_response(self) -> np.ndarray:
        """``|H|`` of the selected filter: (inputs, n, n), or (n, n) for one input channel."""
        return views.frequency_response(self._weights, self.filter, self.input_channel)

    # ------------------------------------------------------------------ rendering
    def _tiles(self, w: np.ndarray) -> tuple[np.ndarray, int]:
        key = (self.layer, tensor_version(self.conv.weight))
        hit = self._tiles_cache.get(key)
        if hit is None:
            hit = views.all_filters(w)
            self._tiles_cache = {key: hit}  # one layer at a time
        return hit

    def _compute(self) -> tuple[tuple[str, int], Any]:
        """The layer's tiles and weights when the layer (or its weights) changed since they were
        sent (else None: the page draws filter, input channel and colormap changes itself)."""
        w, bias = self._weights_of.of(self.layer, self.conv)
        key = (self.layer, tensor_version(self.conv.weight))
        if key == self._sent:
            return key, None
        rgb, k = self._tiles(w)
        base = rgb[::k, ::k]  # the tiles before their enlargement
        meta = {"layer": self.layer, "conv": conv_module(self._net, self._infos[self.layer])[0],
                "shape": list(w.shape), "bias": bias is not None, "tiles": [*base.shape[:2], k],
                "serial": next(self._serials)}
        parts = [np.ascontiguousarray(base).tobytes(), np.asarray(w, "<f4").tobytes()]
        if bias is not None:
            parts.append(np.asarray(bias, "<f4").tobytes())
        return key, (meta, b"".join(parts))

    def _apply(self, result: tuple[tuple[str, int], Any]) -> None:
        key, payload = result
        if payload is not None:
            with widgets.Widget.hold_sync(self):  # one message
                self._layer, self._data = payload
            self._sent = key

    def _pictures(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The three pictures shown and the captions, drawn in Python."""
        w, f = self._weights, self.filter
        o, i, kh, kw = w.shape
        tiles, weights, freq, peak, mag = views.filter_pictures(
            w, self._tiles(w), f, self.input_channel, self.cmap)
        kernels = pixels.filter_channels(w, f)
        which = (f"input {_channel_name(self.input_channel, i)}" if self.input_channel >= 0
                 else ("R, G, B inputs" if i == 3 else f"all {i} inputs"))
        bias = self._weights_of.of(self.layer, self.conv)[1]
        bias_text = f" · bias {bias[f]:.4g}" if bias is not None else ""
        conv_name = conv_module(self._net, self._infos[self.layer])[0]
        captions = {
            "weights": f"filter {f}: weights per input channel (− / +, ±{peak:.3g})",
            "frequency": (f"|H| (freqz2) of filter {f}, {which}; DC in the middle, edges ±Nyquist; "
                          f"max {float(mag.max()):.3g}"),
            "stats": (f"{self.layer} ({conv_name}) · {o} filters of {i}×{kh}×{kw} · filter {f}: "
                      f"min {float(kernels.min()):.4g}, max {float(kernels.max()):.4g}, "
                      f"‖w‖ {float(np.linalg.norm(kernels)):.4g}{bias_text}"),
        }
        return {"tiles": tiles, "weights": weights, "frequency": freq}, captions

    @property
    def pngs(self) -> dict[str, bytes]:
        """PNG bytes now shown: ``tiles``, ``weights`` and ``frequency``."""
        return {key: pixels.to_png(p) for key, p in self._pictures()[0].items()}

    @property
    def png(self) -> bytes:
        """The filter tiles with the selected one outlined (what a static renderer shows)."""
        return pixels.to_png(self._pictures()[0]["tiles"])

    @property
    def captions(self) -> dict[str, str]:
        """The text now shown: ``weights`` and ``frequency`` captions, ``stats`` line."""
        return self._pictures()[1]
