"""What an exported explorer holds: its images, layers and points, and per image and point the
8-bit levels of every channel (one set per contrast) and the numbers of the stats line.

The levels are exactly those of :func:`actwidgets.pixels.render_grid` before its colormap
(:func:`~actwidgets.pixels.normalize_channels`, then :data:`GRID_LEVELS` levels), so the page
draws the widget's grid pixel for pixel. Points, not layers, hold the data: a conv and the
ReLU after it share their two points (SqueezeNet's 64 layers have 64 distinct points, not 116).

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> sel = select(net, "face", ["conv1", "relu_conv1", "pool1"])
>>> list(sel.images), [l.name for l in sel.layers], sel.points
(['face'], ['conv1', 'relu_conv1', 'pool1'], ['features.0', 'features.1', 'features.2'])
>>> data = collect(sel)["face"]["features.2"]
>>> data.levels["minmax"].shape, data.levels["minmax"].dtype.name, int(data.levels["minmax"].max())
((64, 56, 56), 'uint8', 253)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import analysis, pixels
from ..capture import cached_activations
from ..explorer_state import image_names
from ..images import SAMPLE_IMAGES, sample_image
from ..model.layers import LayerInfo
from ..pixels.views import GRID_LEVELS, fmt

__all__ = ["Selection", "PointData", "select", "collect", "point_data", "GRID_LEVELS", "fmt", "layer_groups"]


@dataclass(frozen=True)
class Selection:
    """The chosen network, images (name → picture at the input size), layers (forward order),
    the extractor points they need (forward order, each once) and the contrasts."""

    net: Any
    images: dict[str, np.ndarray]
    layers: list[LayerInfo]
    points: list[str]
    contrasts: tuple[str, ...]


@dataclass(frozen=True)
class PointData:
    """One image at one point: per contrast the (C, h, w) uint8 grid levels, the stats line's
    numbers, and each channel's largest value (float32: the bars of a layer of 1×1 maps)."""

    levels: dict[str, np.ndarray]
    stats: dict[str, Any]
    values: np.ndarray


def _pictures(net: Any, images: Any) -> dict[str, np.ndarray]:
    """name → picture at the input size, named as the explorer names the images it is given
    (:func:`~actwidgets.explorer_state.image_names`); None: the face sample."""
    out = {name: net.image(sample_image(source) if _is_sample(source) else source)
           for name, source in image_names(SAMPLE_IMAGES[0] if images is None else images)}
    if not out:
        raise ValueError("images is empty: give at least one image (a sample's name, a path, an array)")
    return out


def _is_sample(source: Any) -> bool:
    return isinstance(source, str) and source in SAMPLE_IMAGES and not os.path.exists(source)


def chosen_layers(net: Any, layers: Any) -> list[LayerInfo]:
    """The listed layers ``layers`` names (any layer argument, blocks such as ``"fire6"``
    too, read by ``net.layers.select``; None: all), in forward order, each once."""
    if layers is None:
        return list(net.layers)
    chosen = {info.name: info for info in map(net.layers.listed, net.layers.select(layers).layers)}
    return sorted(chosen.values(), key=lambda info: info.index)


def select(net: Any, images: Any = None, layers: Any = None,
           contrasts: Sequence[str] | None = None) -> Selection:
    """Resolve what to export: images (None: the face sample; a name, path, array, list or
    dict name → image), layers (None: all; names, indices or block names) and contrasts."""
    from ..model.network import Network

    if not isinstance(net, Network):
        raise TypeError(
            f"export takes an actwidgets.Network, got {type(net).__name__}; use "
            "actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
        )
    chosen = tuple(dict.fromkeys(pixels.CONTRASTS if contrasts is None else contrasts))
    bad = [c for c in chosen if c not in pixels.CONTRASTS]
    if bad or not chosen:
        raise ValueError(f"contrasts must be some of {pixels.CONTRASTS}, got {contrasts!r}")
    infos = chosen_layers(net, layers)
    points = list(dict.fromkeys(p for info in infos for p in (info.pre, info.post)))
    return Selection(net, _pictures(net, images), infos, points, chosen)


def _stats(acts: np.ndarray, per: dict[str, np.ndarray]) -> dict[str, Any]:
    """The stats line's numbers, formatted as the explorer formats them."""
    return {
        "min": fmt(float(per["min"].min())),
        "max": fmt(float(per["max"].max())),
        "zeros": f"{100 * float(per['frac_zero'].mean()):.1f}",
        "strongest": analysis.strongest_channel(acts),
        "cmax": " ".join(fmt(float(v)) for v in per["max"]),
        "cmean": " ".join(fmt(float(v)) for v in per["mean"]),
    }


def point_data(acts: np.ndarray, contrasts: Sequence[str]) -> PointData:
    """The levels (as :func:`~actwidgets.pixels.render_grid` computes them) and the stats."""
    levels = {
        c: pixels.to_levels(pixels.normalize_channels(acts, c), GRID_LEVELS) for c in contrasts
    }
    per = analysis.channel_stats(acts)
    return PointData(levels, _stats(acts, per), np.asarray(per["max"], np.float32))


def collect(sel: Selection) -> dict[str, dict[str, PointData]]:
    """image name → point → :class:`PointData`; one forward pass per image."""
    out: dict[str, dict[str, PointData]] = {}
    for name, picture in sel.images.items():
        found = cached_activations(sel.net, [picture], sel.points)[0]
        out[name] = {p: point_data(found[p], sel.contrasts) for p in sel.points}
    return out


def layer_groups(layers: Sequence[LayerInfo]) -> list[dict[str, Any]]:
    """The layer picker's groups, labelled as the explorer's: blocks (where they gather
    layers), all layers, every layer of a kind (where there are several kinds).

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> [g["label"] for g in layer_groups(list(net.layers)[:4])]
    ['conv1 (3)', 'fire2 (1)', 'all layers (4)', 'every conv (2)', 'every relu (1)', 'every pool (1)']
    """
    index = {info.name: i for i, info in enumerate(layers)}
    by_block: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for info in layers:
        by_block.setdefault(info.group, []).append(index[info.name])
        by_kind.setdefault(info.kind, []).append(index[info.name])
    groups = []
    if len(by_block) < len(layers):
        groups += [{"label": f"{g} ({len(m)})", "block": g, "layers": m} for g, m in by_block.items()]
    groups.append({"label": f"all layers ({len(layers)})", "block": "", "layers": list(range(len(layers)))})
    if len(by_kind) > 1:
        groups += [{"label": f"every {k} ({len(m)})", "block": "", "layers": m} for k, m in by_kind.items()]
    return groups
