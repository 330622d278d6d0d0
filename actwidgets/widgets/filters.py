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
import traitlets
from torch import nn
from traitlets import Int, Unicode, observe, validate

from .. import analysis, pixels
from ..model.layers import LayerInfo, LayerNameError
from . import _base
from ._base import ExplorerBase

__all__ = ["FilterExplorer", "NotAConvError", "conv_module"]

#: Colour map of the weights: blue negative, white zero, red positive.
WEIGHT_CMAP = "RdBu_r"
_TILE_SIDE = 360  # the filter grid and the weights are enlarged to about this many pixels
_FREQ_ONE = 64  # frequency grid for one input channel
_OUTLINE = (255, 64, 0)
_GAP = 2  # pixels between enlarged tiles


class NotAConvError(traitlets.TraitError, ValueError):
    """The layer has no convolution whose filters could be shown."""


def _conv_layers(net: Any) -> list[LayerInfo]:
    out = []
    for info in net.layers:
        if info.kind != "conv":
            continue
        try:
            conv_module(net, info)
        except (NotAConvError, LayerNameError):
            continue
        out.append(info)
    return out


def conv_module(net: Any, layer: str | LayerInfo) -> tuple[str, nn.Conv2d]:
    """The ``(qualified name, nn.Conv2d)`` whose filters make ``layer``.

    The layer's point names its module with the fx backend (``features.0``) and with the
    hook backend (the module's name). If that module is a ``Conv2d`` it is the answer.
    Otherwise, for a layer the catalogue calls a conv (GoogLeNet's MATLAB conv names point
    at the batch norm ``conv1.bn`` right before the ReLU), the single ``Conv2d`` in the
    parent module is (``conv1.conv``). Anything else raises :class:`NotAConvError`
    (a TraitError and a ValueError), naming the conv layers.
    """
    info = layer if isinstance(layer, LayerInfo) else net.layers.get(layer)
    model: nn.Module = net.model
    names: list[str] = []
    try:
        module_name = net.extractor.point(info.native).module
    except Exception:  # noqa: BLE001 - a point without module: fall back to its name
        module_name = None
    for name in (module_name, info.native):
        if name and name not in names:
            names.append(name)
    for name in names:
        try:
            module = model.get_submodule(name)
        except AttributeError:
            continue
        if isinstance(module, nn.Conv2d):
            return name, module
    if info.kind == "conv":
        for name in names:
            parent_name = name.rpartition(".")[0]
            try:
                parent = model.get_submodule(parent_name)
            except AttributeError:
                continue
            convs = [(n, m) for n, m in parent.named_children() if isinstance(m, nn.Conv2d)]
            if len(convs) == 1:
                child, module = convs[0]
                return (f"{parent_name}.{child}" if parent_name else child), module
    convs = [l.name for l in net.layers if l.kind == "conv"]
    shown = ", ".join(convs[:12]) + (f", … ({len(convs)} in all)" if len(convs) > 12 else "")
    raise NotAConvError(
        f"{info.name!r} is a {info.kind} layer, not a convolution: it has no filters to show. "
        + (f"Conv layers of {net.name}: {shown}." if convs else f"{net.name} has no conv layers.")
    )


def _enlarge_to(rgb: np.ndarray, side: int = _TILE_SIDE) -> tuple[np.ndarray, int]:
    """Nearest-neighbour enlargement by the integer factor that brings the longer side
    closest to ``side`` (at least 1)."""
    k = max(1, side // max(rgb.shape[:2]))
    return pixels.enlarge(rgb, k), k


def _outline(rgb: np.ndarray, box: tuple[int, int, int, int], width: int = 2) -> None:
    """Draw a ``width`` px ring just outside ``box`` (x0, y0, x1, y1), clipped to the image."""
    pixels.outline(rgb, box, _OUTLINE, width=width)


def _tile_enlarged(
    tiles: np.ndarray, grid: tuple[int | None, int | None] | None, side: int, pad_value: float
) -> tuple[np.ndarray, tuple[int, int], int]:
    """(N, h, w, 3) uint8 tiles, each enlarged by one integer factor so the grid's longer side
    is about ``side``, tiled with 2 px of ``pad_value`` between them.

    Returns the picture, the (rows, cols) grid and the factor."""
    n, h, w = tiles.shape[:3]
    rows, cols = pixels.tile_grid(n, grid)
    k = max(1, min((side - 2 * (cols + 1)) // (cols * w), (side - 2 * (rows + 1)) // (rows * h)))
    big = pixels.enlarge(tiles, k, axis=1)
    return pixels.imtile(big, grid=(rows, cols), padding=_GAP, pad_value=pad_value), (rows, cols), k


def _channel_name(i: int, inputs: int) -> str:
    return "RGB"[i] if inputs == 3 else str(i)


class FilterExplorer(ExplorerBase):
    """The learned filters of a conv layer of ``net``.

    Top: every filter as a tile (first-layer filters as RGB pictures; deeper ones as their
    mean over the input channels), the selected one outlined. Below: the selected filter's
    weights, one enlarged kernel per input channel (blue negative, red positive, one scale),
    and the magnitude of its 2-D frequency response (:func:`actwidgets.analysis.freqz2`,
    DC in the middle, ±1 the Nyquist frequency) for every input channel or the chosen one.
    State: ``layer``, ``filter``, ``input_channel`` (-1: all), ``cmap``.
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
        from ..model.network import Network

        if not isinstance(net, Network):
            raise TypeError(
                f"FilterExplorer takes an actwidgets.Network, got {type(net).__name__}; "
                "use actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
            )
        super().__init__(net)
        self._convs = _conv_layers(net)
        self._infos = {l.name: l for l in self._convs}
        self._weight_cache: dict[str, tuple[int, np.ndarray, np.ndarray | None]] = {}
        self._tiles_cache: dict[tuple[str, int], tuple[np.ndarray, int]] = {}
        if layer is None:
            if not self._convs:
                raise NotAConvError(f"{net.name} has no conv layers: FilterExplorer has nothing to show")
            layer = self._convs[0].name
        # Check the layer before building anything: a pool layer fails here, clearly.
        info = self._check_layer(layer)

        self._layer_dd = widgets.Dropdown(
            options=[(l.label, l.name) for l in self._convs] or [(info.label, info.name)],
            value=info.name, description="conv layer",
            layout=widgets.Layout(width="auto", min_width="300px"),
            style={"description_width": "initial"},
        )
        self._slider = widgets.IntSlider(
            value=0, min=0, max=0, description="filter", continuous_update=True,
            layout=widgets.Layout(width="420px"),
        )
        self._input_dd = widgets.Dropdown(
            options=[("all", -1)], value=-1, description="input channel",
            tooltip="Frequency response of every input channel, or of one",
            layout=widgets.Layout(width="220px"), style={"description_width": "initial"},
        )
        self._cmap_dd = _base.cmap_dropdown("viridis")
        self._cmap_dd.description = "colormap (|H|)"
        self._tiles = _base.png_image()
        self._weights_img = _base.png_image()
        self._freq_img = _base.png_image()
        self._weights_caption = widgets.HTML("")
        self._freq_caption = widgets.HTML("")
        self._stats = widgets.HTML("")
        self._link(self._layer_dd, "layer")
        self._link(self._slider, "filter")
        self._link(self._input_dd, "input_channel")
        self._link(self._cmap_dd, "cmap")

        self.children = [
            self._banner,
            widgets.HBox([self._layer_dd]),
            widgets.HBox([self._tiles]),
            widgets.HBox([self._slider, self._input_dd, self._cmap_dd]),
            widgets.HBox([
                widgets.VBox([self._weights_caption, self._weights_img],
                             layout=widgets.Layout(margin="0 12px 0 0")),
                widgets.VBox([self._freq_caption, self._freq_img]),
            ]),
            self._stats,
            self._error,
        ]

        self.layer = info.name
        self.filter = filter
        self.input_channel = input_channel
        self.cmap = cmap
        self._ready = True
        if not self._render():
            raise ValueError(f"FilterExplorer cannot show {self.layer!r}: {self.error}")

    # ------------------------------------------------------------------ validation
    def _check_layer(self, name: Any) -> LayerInfo:
        if isinstance(name, LayerInfo):
            name = name.name
        info = _base.check_layer_name(self._net, name, "FilterExplorer")
        if info.name not in self._infos:
            conv_module(self._net, info)  # raises NotAConvError with the conv layers
            self._infos[info.name] = info  # pragma: no cover - a conv _conv_layers missed
        return self._infos[info.name]

    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return self._check_layer(proposal["value"]).name

    @validate("filter")
    def _valid_filter(self, proposal: Any) -> int:
        o = self._conv.out_channels if self.layer else 1 << 30
        return self._validate_channel_index(proposal["value"], o, repr(self.layer), "filter")

    @validate("input_channel")
    def _valid_input(self, proposal: Any) -> int:
        value = proposal["value"]
        if value == -1 and not isinstance(value, bool):
            return -1
        i = self._weights.shape[1] if self.layer else 1 << 30
        return self._validate_channel_index(value, i, f"{self.layer!r} (input side)", "input_channel")

    @validate("cmap")
    def _valid_cmap(self, proposal: Any) -> str:
        return self._validate_cmap(proposal["value"], "FilterExplorer")

    # ------------------------------------------------------------------ observers
    @observe("layer")
    def _update_layer(self, change: Any) -> None:
        with self._batch():
            self._sync(self._layer_dd, change.new)
            o, i = self._weights.shape[:2]
            if self.filter >= o:
                self.filter = o - 1
            if self.input_channel >= i:
                self.input_channel = -1
            with self._slider.hold_sync():
                self._slider.max = o - 1
                self._sync(self._slider, self.filter)
            options = [("all", -1)] + [(_channel_name(k, i), k) for k in range(i)]
            self._set_options(self._input_dd, options, self.input_channel)
            self._request_render()

    @observe("filter")
    def _update_filter(self, change: Any) -> None:
        self._sync(self._slider, change.new)
        self._request_render()

    @observe("input_channel")
    def _update_input_channel(self, change: Any) -> None:
        self._sync(self._input_dd, change.new)
        self._request_render()

    @observe("cmap")
    def _update_cmap(self, change: Any) -> None:
        if change.new not in self._cmap_dd.options:
            self._set_options(self._cmap_dd, [*self._cmap_dd.options, change.new], change.new)
        self._sync(self._cmap_dd, change.new)
        self._request_render()

    # ------------------------------------------------------------------ data
    @property
    def conv(self) -> nn.Conv2d:
        """The ``nn.Conv2d`` whose filters are shown."""
        return self._conv

    @property
    def _conv(self) -> nn.Conv2d:
        return conv_module(self._net, self._infos[self.layer])[1]

    @property
    def _weights(self) -> np.ndarray:
        conv = self._conv
        version = conv.weight._version
        hit = self._weight_cache.get(self.layer)
        if hit is None or hit[0] != version or hit[1].shape != tuple(conv.weight.shape):
            w = conv.weight.detach().float().cpu().numpy().copy()
            w.flags.writeable = False
            bias = None
            if conv.bias is not None:
                bias = conv.bias.detach().float().cpu().numpy().copy()
            hit = (version, w, bias)
            self._weight_cache[self.layer] = hit
        return hit[1]

    @property
    def weights(self) -> np.ndarray:
        """The layer's weights, (filters, inputs, kh, kw) float32 (a copy)."""
        return np.array(self._weights)

    @property
    def frequency_response(self) -> np.ndarray:
        """|H| of the selected filter: (inputs, n, n), or (n, n) for one input channel."""
        kernels = pixels.filter_channels(self._weights, self.filter)
        if self.input_channel >= 0:
            return analysis.freqz2(kernels[self.input_channel], self._freq_n(1, max(kernels.shape[1:])))[0]
        n = self._freq_n(kernels.shape[0], max(kernels.shape[1:]))
        return np.stack([analysis.freqz2(k, n)[0] for k in kernels])

    @staticmethod
    def _freq_n(inputs: int, k: int) -> int:
        n = _FREQ_ONE if inputs <= 4 else 32 if inputs <= 64 else 16
        return max(n, k)

    # ------------------------------------------------------------------ rendering
    def _tiles_base(self, w: np.ndarray) -> tuple[np.ndarray, int]:
        key = (self.layer, self._conv.weight._version)
        hit = self._tiles_cache.get(key)
        if hit is None:
            tiles = pixels.filter_tiles(w)  # float [0, 1], (H, W, 3) or (H, W)
            rgb = pixels.to_uint8(tiles)
            if rgb.ndim == 2:
                rgb = np.repeat(rgb[:, :, None], 3, axis=2)
            hit = _enlarge_to(rgb)
            self._tiles_cache = {key: hit}  # one layer at a time
        return hit

    def _compute(self) -> tuple[bytes, bytes, bytes, str, str, str]:
        w = self._weights
        o, i, kh, kw = w.shape
        f = self.filter

        # Every filter, the selected one outlined.
        base, k = self._tiles_base(w)
        tiles = base.copy()
        rows, cols = pixels.tile_grid(o)
        x0, y0, x1, y1 = pixels.tile_box(f, (kh, kw), (rows, cols), padding=1)
        _outline(tiles, (x0 * k, y0 * k, x1 * k, y1 * k), width=min(2, k))

        # The selected filter's kernels, one per input channel, on one diverging scale.
        kernels = pixels.filter_channels(w, f)  # (i, kh, kw)
        peak = float(np.max(np.abs(kernels)))
        coloured = pixels.diverging(kernels.reshape(i * kh, kw), WEIGHT_CMAP, vmax=peak)
        coloured = coloured.reshape(i, kh, kw, 3)
        grid = (1, None) if i <= 4 else None
        weights_rgb, wgrid, kx = _tile_enlarged(coloured, grid, 300, pad_value=0.25)
        if self.input_channel >= 0:
            box = pixels.tile_box(self.input_channel, (kh * kx, kw * kx), wgrid, padding=_GAP)
            _outline(weights_rgb, box, width=_GAP)

        # Frequency response magnitude: every input channel (one scale) or the chosen one.
        mag = self.frequency_response
        mag01 = pixels.mat2gray(mag)
        freq_rgb = pixels.apply_colormap(mag01, self.cmap)
        if freq_rgb.ndim == 4:
            freq_rgb = _tile_enlarged(freq_rgb, grid, 400, pad_value=1.0)[0]
        else:
            freq_rgb = _enlarge_to(freq_rgb, 256)[0]

        name = html.escape(self.layer)
        which = (
            f"input {_channel_name(self.input_channel, i)}" if self.input_channel >= 0
            else ("R, G, B inputs" if i == 3 else f"all {i} inputs")
        )
        weights_caption = (
            f"<b>filter {f}</b>: weights per input channel "
            f"(<span style='color:#2166ac'>−</span> / <span style='color:#b2182b'>+</span>, "
            f"±{peak:.3g})"
        )
        freq_caption = (
            f"<b>|H|</b> (freqz2) of filter {f}, {which}; DC in the middle, edges ±Nyquist; "
            f"max {float(mag.max()):.3g}"
        )
        bias = self._weight_cache[self.layer][2]
        bias_text = f" · bias {bias[f]:.4g}" if bias is not None else ""
        stats = (
            '<span style="font-family:monospace;font-size:90%">'
            f"<b>{name}</b> ({html.escape(self._conv_name())}) · {o} filters of {i}×{kh}×{kw} · "
            f"filter {f}: min {float(kernels.min()):.4g}, max {float(kernels.max()):.4g}, "
            f"‖w‖ {float(np.linalg.norm(kernels)):.4g}{bias_text}</span>"
        )
        return (
            pixels.to_png(tiles), pixels.to_png(weights_rgb), pixels.to_png(freq_rgb),
            weights_caption, freq_caption, stats,
        )

    def _conv_name(self) -> str:
        return conv_module(self._net, self._infos[self.layer])[0]

    def _apply(self, result: tuple[bytes, bytes, bytes, str, str, str]) -> None:
        tiles, weights, freq, wcap, fcap, stats = result
        self._tiles.value = tiles
        self._weights_img.value = weights
        self._freq_img.value = freq
        self._weights_caption.value = wcap
        self._freq_caption.value = fcap
        self._stats.value = stats

    @property
    def pngs(self) -> dict[str, bytes]:
        """PNG bytes now shown: ``tiles``, ``weights`` and ``frequency``."""
        return {
            "tiles": bytes(self._tiles.value),
            "weights": bytes(self._weights_img.value),
            "frequency": bytes(self._freq_img.value),
        }
