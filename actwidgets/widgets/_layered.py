"""What the layer explorers share (the ActivationExplorer and the CompareExplorer): a layer, its
stage, a channel, a colormap and a contrast (traits, :class:`LayerState`), and the activations
of the shown layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from traitlets import Enum, Unicode, validate

from ..capture import cached_activations
from ..model.layers import LayerInfo
from . import _parts
from ._netlock import network_lock
from ._state import StateMachine

__all__ = ["LayerState"]


class LayerState(StateMachine):
    """The state shared by the activation explorers: the traits, their checks, a new layer
    setting its default stage and clamping the channel, and the shown layer's activations."""

    layer = _parts.LayerTrait(help="Name of the layer shown (net.layers.names; an alias or an index is "
                              "read as activations reads it)")
    stage = _parts.StageTrait("post", help='"pre": before the activation (ReLU); "post": after it; '
                              "None: the layer's default (a layer without an activation has only "
                              '"post")')
    channel = _parts.Index(0, help="The selected channel, 0..channels-1 of the layer")
    cmap = Unicode("gray", help="Matplotlib colormap name for the activation maps")
    contrast = Enum(
        ("minmax", "stretch"), "minmax",
        help='"minmax": min to black, max to white (mat2gray); '
             '"stretch": clip the 1% tails first (stretchlim)',
    )

    def __init__(self, net: Any, **kwargs: Any) -> None:
        super().__init__(net, **kwargs)
        self.add_class("aw-explorer")  # a stable handle for pages and browser tests
        self._infos: dict[str, LayerInfo] = {info.name: info for info in self._net.layers}
        self._last_acts: tuple[Any, list[dict[str, np.ndarray]], list[np.ndarray]] | None = None

    def _default_layer(self) -> str:
        layers = self._net.layers
        return (next((layer for layer in layers if layer.kind == "conv"), None) or layers[0]).name

    def _set_layer_state(self, layer: str | None, stage: str | None, channel: int, cmap: str,
                         contrast: str) -> None:
        self.layer = layer if layer is not None else self._default_layer()
        self.stage = stage  # None: the layer's default stage
        self.channel = channel
        self.cmap = cmap
        self.contrast = contrast

    # ------------------------------------------------------------ validation
    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return _parts.check_layer_name(self._net, proposal["value"], type(self).__name__).name

    @validate("stage")
    def _valid_stage(self, proposal: Any) -> str:
        return _parts.check_stage(self._infos.get(self.layer), proposal["value"], type(self).__name__)

    @validate("channel")
    def _valid_channel(self, proposal: Any) -> int:
        info = self._infos.get(self.layer)
        channels = info.channels if info is not None else 1 << 30
        return _parts.check_index(type(self).__name__, "channel", proposal["value"], channels,
                                  repr(self.layer))

    @validate("cmap")
    def _valid_cmap(self, proposal: Any) -> str:
        return _parts.check_cmap(type(self).__name__, proposal["value"])

    # ------------------------------------------------------------ following the layer
    def _follow_layer(self, change: Any) -> None:
        info = self._infos[change.new]
        if not self._restoring:
            self.stage = info.default_stage
            if self.channel >= info.channels:
                self.channel = info.channels - 1
        self._layer_followed(info)

    def _layer_followed(self, info: LayerInfo) -> None:
        """The controls follow a new layer (none here)."""

    # ------------------------------------------------------------ data
    @property
    def _info(self) -> LayerInfo:
        return self._infos[self.layer]

    @property
    def point(self) -> str:
        """The extractor point now shown (the layer at the stage)."""
        return self._info.point(self.stage)

    def _stage_acts(self, pictures: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The shown layer and stage for each picture, cached and read-only.

        Both stages of the layer are asked for together, so the forward pass that fills the
        cache captures both and flipping pre/post costs no second pass. While a background
        run holds the network, the arrays of the last layer shown are used again as they are.
        """
        info, lock = self._info, network_lock(self._net)
        key = (tuple(map(id, pictures)), info.pre, info.post)
        if self._last_acts is None or self._last_acts[0] != key or not lock.busy():
            with lock.hold(f"{type(self).__name__} on {info.name}"):
                found = cached_activations(self._net, list(pictures), [info.pre, info.post])
            self._last_acts = (key, found, list(pictures))  # the pictures keep their ids unique
        return [f[self.point] for f in self._last_acts[1]]
