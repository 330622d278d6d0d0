"""The layer catalogue: every layer a person can look at, in forward order.

>>> import torch
>>> from torch import nn
>>> from actwidgets.extract import Extractor
>>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
>>> cat = LayerCatalogue(Extractor(model, torch.zeros(1, 3, 10, 10)))
>>> [(l.name, l.kind, l.channels, l.size, l.has_stages) for l in cat]
[('0', 'conv', 8, (8, 8), True), ('1', 'relu', 8, (8, 8), True), ('2', 'pool', 8, (4, 4), False)]
>>> cat.resolve("0", "pre")   # the conv's own output, before the ReLU
'0'
>>> cat.resolve("0", "post")  # the ReLU's output
'1'
>>> [l.name for l in cat.select([0, "2"]).layers]   # any layer argument: see .selection
['0', '2']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..extract import Extractor, Layout, Point
from .selection import STAGES, LayerSelection, Stage, StageArg, closest_hint, parse_stage, stages_of

__all__ = ["LayerInfo", "LayerCatalogue", "LayerNameError", "STAGES", "NameTable", "LayerSelection"]


class LayerNameError(KeyError):
    """An unknown layer name; the message lists the closest valid names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class NameTable:
    """A zoo network's walkthrough names: ``{alias: (native point, default stage, group)}``.

    ``hide`` lists native points that the naming scheme folds into another layer (a Keras
    conv has its ReLU fused), so the catalogue does not list them (they still resolve).
    """

    names: Mapping[str, tuple[str, str, str]]
    hide: frozenset[str] = frozenset()
    source: str = ""
    kinds: Mapping[str, str] = field(default_factory=dict)  # alias -> kind shown
    filters: Mapping[str, str] = field(default_factory=dict)  # alias -> module with its filters


@dataclass(frozen=True)
class LayerInfo:
    """One layer of the catalogue.

    ``pre`` and ``post`` are the extractor points holding the two stages; they are equal
    when ``has_stages`` is False (a pool or a concat has no activation of its own).
    """

    name: str
    native: str
    kind: str
    channels: int
    size: tuple[int, int]
    has_stages: bool
    pre: str
    post: str
    default_stage: str
    group: str
    index: int
    layout: Layout = Layout("chw")
    filters: str | None = None  # the module whose weights are this layer's learned filters

    @property
    def label(self) -> str:
        """A dropdown label: ``fire6-squeeze1x1 · 48 ch · 14×14``."""
        return f"{self.name} · {self.channels} ch · {self.size[0]}×{self.size[1]}"

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages a person can ask for: ``("pre", "post")``, or ``("post",)`` (its output)
        for a layer with no activation of its own."""
        return STAGES if self.has_stages else ("post",)

    def point(self, stage: str | None = None) -> str:
        """The extractor point that holds ``stage`` (None: the default stage); no check that
        the layer has that stage: arguments are checked by :meth:`LayerCatalogue.select`."""
        stage = self.default_stage if stage is None else stage
        if stage not in STAGES:
            raise ValueError(f'stage must be "pre", "post" or None, got {stage!r}')
        return self.pre if stage == "pre" else self.post


def _native_group(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:-1]) if len(parts) > 1 else name


class LayerCatalogue:
    """Every visible layer of a network, in forward order, with name resolution.

    Names accepted by :meth:`get`: the listed names, the walkthrough aliases of a zoo
    network, the extractor's native point names (torchvision's node names, such as
    ``features.3.squeeze``), and container module names (``features.3``: its output).
    """

    def __init__(self, extractor: Extractor, table: NameTable | None = None) -> None:
        self._ext = extractor
        alias_of: dict[str, str] = {}
        default_of: dict[str, str] = {}
        group_of: dict[str, str] = {}
        if table is not None:
            for alias, (native, stage, group) in table.names.items():
                if native not in extractor:
                    raise ValueError(f"name table maps {alias!r} to unknown point {native!r}")
                native = extractor.point(native).name
                alias_of.setdefault(native, alias)
                default_of[alias] = stage
                group_of[alias] = group
        hidden = table.hide if table is not None else frozenset()

        layers: list[LayerInfo] = []
        self._lookup: dict[str, LayerInfo] = {}
        for point in extractor.points:
            info = self._info(point, alias_of.get(point.name, point.name), default_of,
                              group_of, len(layers))
            if table is not None and info.name in table.names:
                info = LayerInfo(**{**info.__dict__, "kind": table.kinds.get(info.name, info.kind),
                                    "filters": table.filters.get(info.name, info.filters)})
            self._lookup[point.name] = info
            if point.visible and point.name not in hidden:
                layers.append(info)
                self._lookup[info.name] = info
        # Re-number: hidden points leave gaps.
        self._layers = [
            LayerInfo(**{**layer.__dict__, "index": i}) for i, layer in enumerate(layers)
        ]
        for layer in self._layers:
            self._lookup[layer.name] = layer
        self._aliases: dict[str, LayerInfo] = {}
        if table is not None:
            for alias, (native, stage, group) in table.names.items():
                base = self._lookup[extractor.point(native).name]
                self._aliases[alias] = LayerInfo(
                    **{**base.__dict__, "name": alias, "default_stage": stage, "group": group,
                       "kind": table.kinds.get(alias, base.kind),
                       "filters": table.filters.get(alias, base.filters)}
                )

    @staticmethod
    def _info(point: Point, name: str, default_of: Mapping[str, str],
              group_of: Mapping[str, str], index: int) -> LayerInfo:
        pre = point.pre or point.name
        post = point.post or point.name
        return LayerInfo(
            name=name, native=point.name, kind=point.kind, channels=point.channels,
            size=point.size, has_stages=pre != post, pre=pre, post=post,
            default_stage=default_of.get(name, "post"),
            group=group_of.get(name, _native_group(point.name)), index=index, layout=point.layout,
            filters=point.module if point.kind == "conv" and point.op == "module" else None,
        )

    def __repr__(self) -> str:
        return f"LayerCatalogue({len(self._layers)} layers)"

    def __iter__(self) -> Iterator[LayerInfo]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, key: int | str) -> LayerInfo:
        if isinstance(key, int):
            n = len(self._layers)
            if not -n <= key < n:
                raise IndexError(f"layer index {key} is out of range: there are {n} layers "
                                 f"(0 to {n - 1}; net.layers.names lists them)")
            return self._layers[key]
        return self.get(key)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    @property
    def names(self) -> list[str]:
        """The listed layer names, in forward order."""
        return [layer.name for layer in self._layers]

    def _find(self, name: str) -> LayerInfo | None:
        if name in self._aliases:
            return self._aliases[name]
        if name in self._lookup:
            return self._lookup[name]
        if name in self._ext:
            return self._lookup.get(self._ext.point(name).name)
        return None

    def get(self, name: str) -> LayerInfo:
        """The layer called ``name``; an unknown name raises :class:`LayerNameError`."""
        if not isinstance(name, str):
            raise TypeError(f"a layer name is a str, got {type(name).__name__}")
        info = self._find(name)
        if info is None:
            hint = closest_hint(name, [*self._aliases, *self.names, *self.groups()])
            raise LayerNameError(f"no layer named {name!r}.{hint} net.layers.names lists all "
                                 f"{len(self._layers)} layers.")
        return info

    def resolve(self, name: Any, stage: str | None = None) -> str:
        """The extractor point for one layer (any argument :meth:`select` takes) at ``stage``
        (None: the layer's default stage)."""
        info, one = self.select(name, stage).one("resolve")
        return info.point(one)

    def select(self, layer: Any, stage: StageArg | None = None) -> LayerSelection:
        """``layer`` and ``stage`` as every entry point reads them (see :mod:`.selection`);
        an unknown name, an index out of range, a bad stage or ``"pre"`` on a layer without
        stages raises the same sentence wherever it is given."""
        stage = parse_stage(stage)
        many = isinstance(layer, Iterable) and not isinstance(layer, (str, LayerInfo))
        items = list(layer) if many else [layer]  # a list, a tuple, net.layers, an array...
        if not items:
            raise ValueError("the layer list is empty: give a layer name, an index, or a list "
                             "of them (net.layers.names lists the names)")
        found: dict[str, LayerInfo] = {}
        for item in items:
            for key, info in self._one(item):
                found.setdefault(key, info)
        single = not many and not self._is_block(layer)
        infos = tuple(found.values())
        return LayerSelection(infos, tuple(found), stage,
                              tuple(stages_of(i, stage) for i in infos), single)

    def _is_block(self, item: Any) -> bool:
        return isinstance(item, str) and self._find(item) is None and item in self.groups()

    def _one(self, item: Any) -> list[tuple[str, LayerInfo]]:
        """(name as asked, layer) pairs for one item of a layer argument."""
        if isinstance(item, str):
            if self._is_block(item):
                return [(layer.name, layer) for layer in self.groups()[item]]
            return [(item, self.get(item))]  # LayerNameError with the closest names
        if isinstance(item, LayerInfo):
            return [(item.name, self.get(item.name))]
        if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            info = self[int(item)]  # IndexError naming the range
            return [(info.name, info)]
        raise TypeError(
            "layer must be a layer name (str), an index into net.layers (int), a LayerInfo, "
            f"or a list of them; got {type(item).__name__}. net.layers.names lists the names.")

    def listed(self, info: LayerInfo) -> LayerInfo:
        """The listed layer that ``info`` (an alias, a node name) shows; a ValueError for a
        point the catalogue hides (folded into another layer)."""
        same = [layer for layer in self._layers if layer.name == info.name]
        same = same or [layer for layer in self._layers if layer.native == info.native]
        if not same:
            raise ValueError(f"{info.name!r} is a point the layer catalogue hides (it is folded "
                             "into another layer); pick one of net.layers.names")
        return same[0]

    def groups(self) -> dict[str, list[LayerInfo]]:
        """Layers by group (a block such as ``fire6``), in forward order."""
        out: dict[str, list[LayerInfo]] = {}
        for layer in self._layers:
            out.setdefault(layer.group, []).append(layer)
        return out

    def by_kind(self) -> dict[str, list[LayerInfo]]:
        """Layers by kind ("conv", "relu", ...), in forward order."""
        out: dict[str, list[LayerInfo]] = {}
        for layer in self._layers:
            out.setdefault(layer.kind, []).append(layer)
        return out

    def summary(self) -> str:
        """A text table: index, name, kind, channels, size, stages."""
        rows = [f"{'#':>3}  {'layer':<32} {'kind':<8} {'channels':>8}  {'size':<9} stages"]
        for layer in self._layers:
            rows.append(
                f"{layer.index:>3}  {layer.name:<32} {layer.kind:<8} {layer.channels:>8}  "
                f"{f'{layer.size[0]}×{layer.size[1]}':<9} {'pre/post' if layer.has_stages else '-'}"
            )
        return "\n".join(rows)
