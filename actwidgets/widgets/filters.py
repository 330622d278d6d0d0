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

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
from torch import nn
from traitlets import Int, Unicode, validate

from .. import pixels
from ..model.layers import LayerInfo
from . import _filterviews as views
from . import _parts
from ._filterviews import NotAConvError, conv_module
from ._state import StateWidget

__all__ = ["FilterExplorer", "NotAConvError", "conv_module"]


def _channel_name(i: int, inputs: int) -> str:
    return "RGB"[i] if inputs == 3 else str(i)


class FilterExplorer(StateWidget):
    """The learned filters of a conv layer of ``net``.

    Top: every filter as a tile (first-layer filters as RGB pictures; deeper ones as their
    mean over the input channels), the selected one outlined. Below: the selected filter's
    weights, one enlarged kernel per input channel (blue negative, red positive, one scale),
    and the magnitude of its 2-D frequency response (:func:`actwidgets.analysis.freqz2`,
    DC in the middle, ±1 the Nyquist frequency) for every input channel or the chosen one.
    State: ``layer``, ``filter``, ``input_channel`` (-1: all), ``cmap``, each linked to the
    control of that name in ``controls``. ``pngs`` and ``captions`` are what is shown.
    """

    layer = Unicode(help="Name of the conv layer whose filters are shown")
    filter = Int(0, help="The selected filter (output channel), 0..filters-1")
    input_channel = Int(-1, help="Input channel of the frequency response; -1 shows every one")
    cmap = Unicode("viridis", help="Matplotlib colormap of the frequency response")

    _state_names = ("layer", "filter", "input_channel", "cmap")

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
        self._infos = {l.name: l for l in self._convs}
        self._weights_of = views.Weights()
        self._tiles_cache: dict[tuple[str, int], tuple[np.ndarray, int]] = {}
        if layer is None:
            if not self._convs:
                raise NotAConvError(f"{net.name} has no conv layers: FilterExplorer has nothing to show")
            layer = self._convs[0].name
        info = self._check_layer(layer)  # before building anything: a pool layer fails clearly
        self._build_controls(info)
        self.layer = info.name
        self.filter = filter
        self.input_channel = input_channel
        self.cmap = cmap
        if not self._start():
            raise ValueError(f"FilterExplorer cannot show {self.layer!r}: {self.error}")

    def _build_controls(self, info: LayerInfo) -> None:
        layer_dd = widgets.Dropdown(
            options=[(l.label, l.name) for l in self._convs], value=info.name,
            description="conv layer", layout=widgets.Layout(width="auto", min_width="300px"),
            style={"description_width": "initial"},
        )
        slider = widgets.IntSlider(value=0, min=0, max=0, description="filter",
                                   continuous_update=True, layout=widgets.Layout(width="420px"))
        input_dd = widgets.Dropdown(
            options=[("all", -1)], value=-1, description="input channel",
            tooltip="Frequency response of every input channel, or of one",
            layout=widgets.Layout(width="220px"), style={"description_width": "initial"},
        )
        cmap_dd = _parts.cmap_dropdown("viridis", "colormap (|H|)")
        self._images = {k: _parts.png_image() for k in ("tiles", "weights", "frequency")}
        self._captions = {k: widgets.HTML("") for k in ("weights", "frequency", "stats")}
        self._link("layer", layer_dd)
        self._link("filter", slider)
        self._link("input_channel", input_dd)
        self._link("cmap", cmap_dd, lambda value: _parts.show_cmap(cmap_dd, value))
        img, cap = self._images, self._captions
        self.children = [
            self._banner,
            widgets.HBox([layer_dd]),
            widgets.HBox([img["tiles"]]),
            widgets.HBox([slider, input_dd, cmap_dd]),
            widgets.HBox([
                widgets.VBox([cap["weights"], img["weights"]], layout=widgets.Layout(margin="0 12px 0 0")),
                widgets.VBox([cap["frequency"], img["frequency"]]),
            ]),
            cap["stats"],
            self._error,
        ]

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
        slider = self._controls["filter"]
        with self._mute(), slider.hold_sync():
            slider.max = o - 1
            slider.value = min(self.filter, o - 1)
        options = [("all", -1)] + [(_channel_name(k, i), k) for k in range(i)]
        self._set_options(self._controls["input_channel"], options,
                          self.input_channel if self.input_channel < i else -1)

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
        """|H| of the selected filter: (inputs, n, n), or (n, n) for one input channel."""
        return views.frequency_response(self._weights, self.filter, self.input_channel)

    # ------------------------------------------------------------------ rendering
    def _tiles(self, w: np.ndarray) -> tuple[np.ndarray, int]:
        key = (self.layer, self.conv.weight._version)
        hit = self._tiles_cache.get(key)
        if hit is None:
            hit = views.all_filters(w)
            self._tiles_cache = {key: hit}  # one layer at a time
        return hit

    def _compute(self) -> tuple[dict[str, bytes], dict[str, str]]:
        w, f = self._weights, self.filter
        o, i, kh, kw = w.shape
        tiles, weights, freq, peak, mag = views.filter_pictures(
            w, self._tiles(w), f, self.input_channel, self.cmap)
        kernels = pixels.filter_channels(w, f)
        which = (f"input {_channel_name(self.input_channel, i)}" if self.input_channel >= 0
                 else ("R, G, B inputs" if i == 3 else f"all {i} inputs"))
        bias = self._weights_of.of(self.layer, self.conv)[1]
        bias_text = f" · bias {bias[f]:.4g}" if bias is not None else ""
        name, conv_name = html.escape(self.layer), html.escape(conv_module(self._net, self._infos[self.layer])[0])
        captions = {
            "weights": (f"<b>filter {f}</b>: weights per input channel (<span style='color:#2166ac'>"
                        f"−</span> / <span style='color:#b2182b'>+</span>, ±{peak:.3g})"),
            "frequency": (f"<b>|H|</b> (freqz2) of filter {f}, {which}; DC in the middle, edges "
                          f"±Nyquist; max {float(mag.max()):.3g}"),
            "stats": ('<span style="font-family:monospace;font-size:90%">'
                      f"<b>{name}</b> ({conv_name}) · {o} filters of {i}×{kh}×{kw} · "
                      f"filter {f}: min {float(kernels.min()):.4g}, max {float(kernels.max()):.4g}, "
                      f"‖w‖ {float(np.linalg.norm(kernels)):.4g}{bias_text}</span>"),
        }
        pngs = {"tiles": pixels.to_png(tiles), "weights": pixels.to_png(weights),
                "frequency": pixels.to_png(freq)}
        return pngs, captions

    def _apply(self, result: tuple[dict[str, bytes], dict[str, str]]) -> None:
        pngs, captions = result
        for key, png in pngs.items():
            self._images[key].value = png
        for key, text in captions.items():
            self._captions[key].value = text

    @property
    def pngs(self) -> dict[str, bytes]:
        """PNG bytes now shown: ``tiles``, ``weights`` and ``frequency``."""
        return {key: bytes(image.value) for key, image in self._images.items()}

    @property
    def captions(self) -> dict[str, str]:
        """The text now shown: ``weights`` and ``frequency`` captions, ``stats`` line."""
        return {key: _parts.plain_text(c.value) for key, c in self._captions.items()}
