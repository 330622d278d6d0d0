"""The layer picker: two linked dropdowns, a group of layers and a layer in it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from ..model.layers import LayerInfo

__all__ = ["LayerPicker"]


class LayerPicker:
    """Two linked dropdowns: a group (a block such as ``fire6``, every layer of a kind, or all
    layers) and the layer in it, labelled ``fire6-squeeze1x1 · 48 ch · 14×14``.

    A group is keyed ``("block", name)``, ``("kind", kind)`` or ``("all", "")``. Picking a
    group shows its layers and keeps the current layer when it is one of them (else picks the
    group's first, calling ``on_pick(name)``); picking a layer in ``layer`` is left to whoever
    observes that dropdown. ``mute()`` is the owner's context in which control changes are
    not a person's. :meth:`show` follows a layer set from code.
    """

    def __init__(
        self,
        layers: Sequence[LayerInfo],
        on_pick: Callable[[str], None],
        mute: Callable[[], contextlib.AbstractContextManager[Any]],
        *,
        description: str = "layer",
        blocks: bool = True,
    ) -> None:
        self._layers = list(layers)
        if not self._layers:
            raise ValueError("there are no layers to pick from")
        self._on_pick = on_pick
        self._mute = mute
        self._showing = False  # show() is moving the dropdowns: no pick
        self._members: dict[tuple[str, str], list[LayerInfo]] = {("all", ""): self._layers}
        by_block: dict[str, list[LayerInfo]] = {}
        by_kind: dict[str, list[LayerInfo]] = {}
        for l in self._layers:
            by_block.setdefault(l.group, []).append(l)
            by_kind.setdefault(l.kind, []).append(l)
        # Blocks only help when they gather layers (a plain Sequential has one per "block").
        self.has_blocks = blocks and len(by_block) < len(self._layers)
        options: list[tuple[str, tuple[str, str]]] = []
        if self.has_blocks:
            options += self._add("block", by_block, "{} ({})")
        options.append((f"all layers ({len(self._layers)})", ("all", "")))
        if len(by_kind) > 1:
            options += self._add("kind", by_kind, "every {} ({})")
        first = self._layers[0]
        self.group = widgets.Dropdown(
            options=options, value=self._home(first), description=description,
            tooltip="A block of the network, every layer of one kind, or all layers",
            layout=widgets.Layout(width="auto", min_width="180px"),
            style={"description_width": "initial"},
        )
        self.layer = widgets.Dropdown(
            options=self._layer_options(self._home(first)), value=first.name,
            tooltip="The layer shown: name · channels · height×width",
            layout=widgets.Layout(width="auto", min_width="260px"),
        )
        self.group.observe(self._group_changed, "value")
        self.box = widgets.HBox([self.group, self.layer])

    def _add(self, kind: str, groups: dict[str, list[LayerInfo]], label: str) -> list[Any]:
        for name, members in groups.items():
            self._members[(kind, name)] = members
        return [(label.format(name, len(m)), (kind, name)) for name, m in groups.items()]

    def _layer_options(self, key: tuple[str, str]) -> list[tuple[str, str]]:
        return [(l.label, l.name) for l in self._members[key]]

    def _home(self, info: LayerInfo) -> tuple[str, str]:
        return ("block", info.group) if self.has_blocks else ("all", "")

    def _group_changed(self, change: Any) -> None:
        if self._showing:
            return
        current = self.layer.value
        names = [l.name for l in self._members[change.new]]
        with self._mute(), self.layer.hold_sync():
            self.layer.options = self._layer_options(change.new)
            self.layer.value = current if current in names else names[0]
        if self.layer.value != current:
            self._on_pick(self.layer.value)

    def show(self, info: LayerInfo) -> None:
        """Show ``info`` in the dropdowns (switching group if it is not in the current one)."""
        key = self.group.value
        if info.name not in (l.name for l in self._members[key]):
            key = self._home(info)
        self._showing = True
        try:
            with self._mute(), self.group.hold_sync(), self.layer.hold_sync():
                if self.group.value != key:
                    self.group.value = key
                    self.layer.options = self._layer_options(key)
                if self.layer.value != info.name:
                    self.layer.value = info.name
        finally:
            self._showing = False
