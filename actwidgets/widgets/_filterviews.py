"""The FilterExplorer's data and pictures: which ``Conv2d`` holds a layer's filters, its
weights as arrays, and the three pictures (every filter, one filter's kernels, |H|), drawn in
Python as the page (``frontend/filters.js``) draws them, with the sizes of :data:`PAGE_SIZES`."""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets
from torch import nn

from .. import analysis, pixels
from .._torch_compat import version as tensor_version
from ..model.layers import LayerInfo
from ..pixels.views import OUTLINE_RGB

__all__ = ["NotAConvError", "conv_module", "conv_layers", "Weights", "filter_pictures", "PAGE_SIZES"]

#: Colour map of the weights: blue negative, white zero, red positive.
WEIGHT_CMAP = "RdBu_r"
_TILE_SIDE = 360  # the filter grid is enlarged to about this many pixels
_FREQ_ONE = 64  # frequency grid for one input channel
_OUTLINE = OUTLINE_RGB  # the explorer's selection colour
_GAP = 2  # pixels between enlarged tiles
_WEIGHTS_SIDE, _FREQ_SIDE, _FREQ_ONE_SIDE = 300, 400, 256  # about this many pixels wide
_WEIGHTS_PAD, _FREQ_PAD = 0.25, 1.0  # grey between kernels, white between responses

#: The sizes the page draws with (sent once, in the widget's ``_meta``).
PAGE_SIZES = {"gap": _GAP, "weightsSide": _WEIGHTS_SIDE, "freqSide": _FREQ_SIDE,
              "freqOneSide": _FREQ_ONE_SIDE, "weightsPad": round(_WEIGHTS_PAD * 255),
              "freqPad": round(_FREQ_PAD * 255)}


class NotAConvError(traitlets.TraitError, ValueError):
    """The layer has no convolution whose filters could be shown."""


def conv_module(net: Any, layer: str | LayerInfo) -> tuple[str, nn.Conv2d]:
    """The ``(qualified name, nn.Conv2d)`` whose filters make ``layer``.

    That module is the layer's :attr:`~actwidgets.LayerInfo.filters` (a GoogLeNet conv name
    of MATLAB's, which points at the batch norm before the ReLU, names the conv before it).
    A layer without filters raises :class:`NotAConvError` (a TraitError and a ValueError),
    naming the network's conv layers.
    """
    info = layer if isinstance(layer, LayerInfo) else net.layers.get(layer)
    if info.filters:
        module = net.model.get_submodule(info.filters)
        if isinstance(module, nn.Conv2d):
            return info.filters, module
    convs = [conv.name for conv in conv_layers(net)]
    shown = ", ".join(convs[:12]) + (f", … ({len(convs)} in all)" if len(convs) > 12 else "")
    raise NotAConvError(
        f"{info.name!r} is a {info.kind} layer, not a convolution: it has no filters to show. "
        + (f"Conv layers of {net.name}: {shown}." if convs else f"{net.name} has no conv layers.")
    )


def conv_layers(net: Any) -> list[LayerInfo]:
    """The layers of ``net`` whose filters are a ``Conv2d``'s, in forward order."""
    model = net.model
    return [layer for layer in net.layers
            if layer.filters and isinstance(model.get_submodule(layer.filters), nn.Conv2d)]


class Weights:
    """A conv's weights and bias as float32 arrays, read again when they change (training)."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, np.ndarray, np.ndarray | None]] = {}

    def of(self, name: str, conv: nn.Conv2d) -> tuple[np.ndarray, np.ndarray | None]:
        """Read-only (filters, inputs, kh, kw) weights and (filters,) bias (or None)."""
        version = tensor_version(conv.weight)
        hit = self._cache.get(name)
        if hit is None or hit[0] != version or hit[1].shape != tuple(conv.weight.shape):
            w = conv.weight.detach().float().cpu().numpy().copy()
            w.flags.writeable = False
            bias = None if conv.bias is None else conv.bias.detach().float().cpu().numpy().copy()
            hit = self._cache[name] = (version, w, bias)
        return hit[1], hit[2]


def freq_n(inputs: int, k: int) -> int:
    """The frequency grid's side: finer for few input channels."""
    return max(_FREQ_ONE if inputs <= 4 else 32 if inputs <= 64 else 16, k)


def frequency_response(w: np.ndarray, f: int, input_channel: int) -> np.ndarray:
    """|H| of filter ``f``: (inputs, n, n), or (n, n) for one input channel (>= 0)."""
    kernels = pixels.filter_channels(w, f)
    if input_channel >= 0:
        return analysis.freqz2(kernels[input_channel], freq_n(1, max(kernels.shape[1:])))[0]
    n = freq_n(kernels.shape[0], max(kernels.shape[1:]))
    return np.stack([analysis.freqz2(k, n)[0] for k in kernels])


def _enlarge_to(rgb: np.ndarray, side: int = _TILE_SIDE) -> tuple[np.ndarray, int]:
    """Nearest-neighbour enlargement by the integer factor that brings the longer side
    closest to ``side`` (at least 1)."""
    k = max(1, side // max(rgb.shape[:2]))
    return pixels.enlarge(rgb, k), k


def _tile_enlarged(tiles: np.ndarray, grid: tuple[int | None, int | None] | None, side: int,
                   pad_value: float) -> tuple[np.ndarray, tuple[int, int], int]:
    """(N, h, w, 3) uint8 tiles, each enlarged by one integer factor so the grid's longer side
    is about ``side``, tiled with 2 px of ``pad_value`` between them: the picture, the
    (rows, cols) grid and the factor."""
    n, h, w = tiles.shape[:3]
    rows, cols = pixels.tile_grid(n, grid)
    k = max(1, min((side - 2 * (cols + 1)) // (cols * w), (side - 2 * (rows + 1)) // (rows * h)))
    big = pixels.enlarge(tiles, k, axis=1)
    return pixels.imtile(big, grid=(rows, cols), padding=_GAP, pad_value=pad_value), (rows, cols), k


def all_filters(w: np.ndarray) -> tuple[np.ndarray, int]:
    """Every filter as a tile (RGB for 3 inputs, else the mean over inputs), enlarged."""
    rgb = pixels.to_uint8(pixels.filter_tiles(w))
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    return _enlarge_to(rgb)


def filter_pictures(w: np.ndarray, tiles: tuple[np.ndarray, int], f: int, input_channel: int,
                    cmap: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """The three RGB pictures (every filter with ``f`` outlined, ``f``'s kernels, its |H|),
    the kernels' peak |weight| and the |H| array. ``tiles`` is :func:`all_filters`'s."""
    o, i, kh, kw = w.shape
    base, k = tiles
    picture = base.copy()
    x0, y0, x1, y1 = pixels.tile_box(f, (kh, kw), pixels.tile_grid(o), padding=1)
    pixels.outline(picture, (x0 * k, y0 * k, x1 * k, y1 * k), _OUTLINE, width=min(2, k))

    kernels = pixels.filter_channels(w, f)  # (i, kh, kw), on one diverging scale
    peak = float(np.max(np.abs(kernels)))
    coloured = pixels.diverging(kernels.reshape(i * kh, kw), WEIGHT_CMAP, vmax=peak)
    grid = (1, None) if i <= 4 else None
    weights_rgb, wgrid, kx = _tile_enlarged(coloured.reshape(i, kh, kw, 3), grid, _WEIGHTS_SIDE, _WEIGHTS_PAD)
    if input_channel >= 0:
        box = pixels.tile_box(input_channel, (kh * kx, kw * kx), wgrid, padding=_GAP)
        pixels.outline(weights_rgb, box, _OUTLINE, width=_GAP)

    mag = frequency_response(w, f, input_channel)  # every input channel on one scale
    freq_rgb = pixels.apply_colormap(pixels.mat2gray(mag), cmap)
    if freq_rgb.ndim == 4:
        freq_rgb = _tile_enlarged(freq_rgb, grid, _FREQ_SIDE, _FREQ_PAD)[0]
    else:
        freq_rgb = _enlarge_to(freq_rgb, _FREQ_ONE_SIDE)[0]
    return picture, weights_rgb, freq_rgb, peak, mag
