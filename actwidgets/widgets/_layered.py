"""What the two activation explorers share: a layer, its stage, a channel, a colormap and a
contrast (traits, :class:`LayerState`), the activations of the shown layer, and for widgets
drawn in Python the controls linked to those traits (:class:`LayerExplorerBase`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from traitlets import Enum, Unicode, validate

from ..capture import cached_activations
from ..model.layers import LayerInfo
from . import _parts
from ._netlock import network_lock
from ._picker import LayerPicker
from ._state import StateMachine, StateWidget

__all__ = ["LayerState", "LayerExplorerBase"]


class LayerState(StateMachine):
    """The state shared by the activation explorers: the traits, their checks, a new layer
    setting its default stage and clamping the channel, and the shown layer's activations."""

    layer = Unicode(help="Name of the layer shown (net.layers.names; aliases are accepted)")
    stage = Enum(("pre", "post"), "post", help='"pre": before the activation (ReLU); "post": after it')
    channel = _parts.Index(0, help="The selected channel, 0..channels-1 of the layer")
    cmap = Unicode("gray", help="Matplotlib colormap name for the activation maps")
    contrast = Enum(
        ("minmax", "stretch"), "minmax",
        help='"minmax": min to black, max to white (mat2gray); "stretch": clip the 1% tails first (stretchlim)',
    )

    def __init__(self, net: Any, **kwargs: Any) -> None:
        super().__init__(net, **kwargs)
        self.add_class("aw-explorer")  # a stable handle for pages and browser tests
        self._infos: dict[str, LayerInfo] = {l.name: l for l in self._net.layers}
        self._last_acts: tuple[Any, list[dict[str, np.ndarray]], list[np.ndarray]] | None = None

    def _default_layer(self) -> str:
        layers = self._net.layers
        return (next((l for l in layers if l.kind == "conv"), None) or layers[0]).name

    def _set_layer_state(self, layer: str | None, stage: str | None, channel: int, cmap: str,
                         contrast: str) -> None:
        self.layer = layer if layer is not None else self._default_layer()
        if stage is not None:
            self.stage = stage
        self.channel = channel
        self.cmap = cmap
        self.contrast = contrast

    # ------------------------------------------------------------ validation
    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return _parts.check_layer_name(self._net, proposal["value"], type(self).__name__).name

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


class LayerExplorerBase(LayerState, StateWidget):
    """A layer explorer drawn in Python, with ipywidgets controls linked to the traits.
    Subclasses call :meth:`_build_layer_controls` before setting any state, and implement
    the render.

    Controls (``controls[...]``): ``layer`` (the layer dropdown), ``layer_group`` (the
    dropdown of blocks and kinds), ``stage``, ``channel`` (the slider), ``cmap`` and
    ``contrast``.
    """

    def _build_layer_controls(self) -> None:
        layers = list(self._net.layers)
        self._picker = LayerPicker(layers, lambda name: self._person_sets("layer", name), self._mute)
        self._slider = widgets.IntSlider(
            value=0, min=0, max=max(0, layers[0].channels - 1), description="channel",
            continuous_update=True, layout=widgets.Layout(width="420px"),
        )
        self._stage_tb = _parts.stage_toggle("post")
        self._cmap_dd = _parts.cmap_dropdown("gray")
        self._link("layer", self._picker.layer, lambda name: self._picker.show(self._infos[name]))
        self._controls["layer_group"] = self._picker.group
        self._link("stage", self._stage_tb)
        self._link("channel", self._slider)
        self._link("cmap", self._cmap_dd, lambda value: _parts.show_cmap(self._cmap_dd, value))
        self._link("contrast", _parts.contrast_toggle("minmax"))

    def _layer_followed(self, info: LayerInfo) -> None:
        with self._mute(), self._slider.hold_sync():
            self._slider.max = info.channels - 1
            self._slider.value = min(self.channel, info.channels - 1)
        _parts.update_stage_toggle(self._stage_tb, info)

    @property
    def stats(self) -> str:
        """The statistics line under the picture, as plain text."""
        return _parts.plain_text(self._stats.value)
