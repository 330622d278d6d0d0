"""The feature visualisers' arguments, checked: layer and channels, counts, sizes, device."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..model.network import Network
from ..pixels.checks import positive_int

__all__ = ["ChannelIndexError", "resolve_point", "channel_list", "positive_int", "positive_float",
           "size_pair", "check_device", "seed_int", "check_callback"]


class ChannelIndexError(IndexError, ValueError):
    """A channel index outside the layer's channels (both an IndexError and a ValueError)."""


def resolve_point(net: Network, layer: Any, stage: str | None,
                  what: str = "visualize_channels") -> tuple[str, str, int]:
    """(layer name, extractor point, channel count) for ``layer`` at ``stage``, read by
    ``net.layers.select`` as every entry point reads them; ``what`` shows one layer."""
    info, one = net.layers.select(layer, stage).one(what)
    point = net.extractor.point(info.point(one))
    if point.kind == "input":
        raise ValueError(
            f"{layer!r} is the network's input, which has nothing to maximise; pick a layer "
            "from net.layers.names"
        )
    if not point.shape:
        raise ValueError(f"layer {layer!r} has no channel axis; pick a conv, ReLU or linear layer")
    return info.name, point.name, point.channels


def channel_list(channels: Any, count: int, layer: str, *, allow_empty: bool = False) -> list[int]:
    """``channels`` (an int, or a sequence/range of ints) checked against ``count``."""
    if isinstance(channels, (bool, np.bool_)):
        raise TypeError("channels must be an int or a sequence of ints, not a bool")
    if isinstance(channels, (int, np.integer)):
        items: list[Any] = [channels]
    elif isinstance(channels, torch.Tensor):
        items = channels.flatten().tolist()
    else:
        try:
            items = list(channels)
        except TypeError:
            raise TypeError(
                f"channels must be an int or a sequence of ints, got {type(channels).__name__}"
            ) from None
    out = []
    for c in items:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"channel indices are ints, got {c!r} ({type(c).__name__})")
        c = int(c)
        if not 0 <= c < count:
            raise ChannelIndexError(
                f"channel {c} is out of range for layer {layer!r}, which has {count} channels: "
                f"valid indices are 0..{count - 1}"
            )
        out.append(c)
    if not out and not allow_empty:
        raise ValueError(f"channels is empty: give at least one channel of {layer!r} (0..{count - 1})")
    return out


def positive_float(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def size_pair(size: Any) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        size = (size, size)
    try:
        h, w = size
        h, w = positive_int(h, "size"), positive_int(w, "size")
    except (TypeError, ValueError):
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}") from None
    if min(h, w) < 8:
        raise ValueError(f"size must be at least 8×8 pixels, got {h}×{w}")
    return h, w


def check_device(net: Network, device: Any) -> torch.device:
    """The model's device; ``device``, when given, must name it (the model is not moved)."""
    here = net.device
    if device is None:
        return here
    want = torch.device(device)
    same = want.type == here.type and (want.index is None or here.index is None or want.index == here.index)
    if not same:
        raise ValueError(
            f"the model is on {here}, not {want}: the model is never moved behind your back; "
            f"move it first with net.to({str(want)!r}), or leave device=None"
        )
    return here


def seed_int(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return int(seed)




def check_callback(callback: Any, how: str = "callback(done, total)") -> None:
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as {how}")
