"""One reading of a layer argument and a stage: :class:`LayerSelection`, made by
:meth:`~actwidgets.model.layers.LayerCatalogue.select` for every entry point.

``activations``, ``channel_atlas``, ``export_html``/``static_explorer``, ``visualize_channels``
and the command line all resolve their ``layer`` and ``stage`` arguments here, so one
argument means one thing everywhere and a bad one gets one sentence.

A layer argument is a name (the listed name, a MATLAB or Keras name, a node name such as
``features.3.squeeze``, a container such as ``features.3``), a block such as ``"fire6"`` (its
layers, in forward order), an index (negative from the end; numpy integers too), a
:class:`~actwidgets.model.layers.LayerInfo`, or a list of these. A stage is ``"pre"``,
``"post"``, ``"both"`` or None (each layer's ``default_stage``). A layer with no activation
right after it (a pool, a concat, a conv before a batch norm: ``has_stages`` False) has one
stage, ``"post"`` (its output):
``"pre"`` is refused there, and ``"both"`` gives that one value as both stages.

>>> import torch
>>> from torch import nn
>>> from actwidgets.extract import Extractor
>>> from actwidgets.model.layers import LayerCatalogue
>>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
>>> layers = LayerCatalogue(Extractor(model, torch.zeros(1, 3, 10, 10)))
>>> sel = layers.select(["0", -1], "both")
>>> [info.name for info in sel.layers], sel.points()
(['0', '2'], ['0', '1', '2'])
>>> layers.select("2", "pre")  # doctest: +ELLIPSIS
Traceback (most recent call last):
ValueError: '2' has no activation right after it: it has one stage, "post" (its output), not 'pre'; ...
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # LayerInfo lives in .layers, which imports this module
    from .layers import LayerInfo

__all__ = ["Stage", "StageArg", "STAGES", "LayerSelection", "parse_stage", "stages_of",
           "no_stage", "stage_argument", "closest_hint"]

#: A layer's stage: before its activation, or after it.
Stage = Literal["pre", "post"]
#: What a ``stage`` argument takes besides None (each layer's default stage).
StageArg = Literal["pre", "post", "both"]
#: The two stages of a layer.
STAGES: tuple[Stage, Stage] = ("pre", "post")


def parse_stage(value: Any, *, both: bool = True, what: str = "this") -> StageArg | None:
    """``value`` as a stage argument: ``"pre"``, ``"post"``, ``"both"`` (where ``both``) or
    None; else a ValueError whose sentence a widget can show as it is (a TraitError's text:
    ``TraitError(f"{owner}.stage: {exc}")``).

    >>> parse_stage("both"), parse_stage(None)
    ('both', None)
    >>> parse_stage("middle")
    Traceback (most recent call last):
    ValueError: stage must be "pre", "post", "both" or None, got 'middle'
    """
    if value is None or (isinstance(value, str) and value in STAGES):
        return value
    if isinstance(value, str) and value == "both":
        if both:
            return "both"
        raise ValueError(f'stage="both" does not fit {what}: it shows one stage; give "pre", '
                         '"post" or None')
    raise ValueError(f'stage must be "pre", "post", "both" or None, got {value!r}')


def stages_of(info: LayerInfo, stage: StageArg | None) -> tuple[Stage, ...]:
    """The stages ``stage`` reads of ``info``: both for ``"both"``, the default for None; a
    ValueError, naming the stages it has, for ``"pre"`` on a layer without stages."""
    if stage == "both":
        return STAGES
    if stage is None:
        return (info.default_stage,)  # type: ignore[return-value]
    if stage not in info.stages:
        raise ValueError(no_stage(info.name, stage))
    return (stage,)


def no_stage(name: str, stage: str) -> str:
    """The sentence refusing ``stage`` on layer ``name``, which has one stage: its output."""
    return (f"{name!r} has no activation right after it: it has one stage, "
            f'"post" (its output), not {stage!r}; give stage="post" or None '
            "(net.layers.summary() lists each layer's stages)")


def stage_argument(specs: Iterable[tuple[tuple[str, ...], str]]) -> StageArg | None:
    """The ``stage`` argument that reads, of each layer, the stages given with its default
    (``((stages, default_stage), ...)``): the inverse of :func:`stages_of`, for resuming.

    >>> stage_argument([(("pre", "post"), "pre"), (("pre", "post"), "post")])
    'both'
    >>> stage_argument([(("pre",), "pre"), (("post",), "post")]) is None
    True
    """
    specs = [(tuple(stages), default) for stages, default in specs]
    if all(len(stages) == 2 for stages, _ in specs):
        return "both"
    if len({stages for stages, _ in specs}) == 1:
        return specs[0][0][0]  # type: ignore[return-value]
    return None


def closest_hint(name: str, candidates: Iterable[str]) -> str:
    """`` Closest: a, b.`` (up to five close names), or ``""`` where none is close."""
    close = difflib.get_close_matches(name, list(dict.fromkeys(candidates)), n=5, cutoff=0.5)
    return f" Closest: {', '.join(close)}." if close else ""


@dataclass(frozen=True)
class LayerSelection:
    """Layers and stages, resolved: each layer once (blocks expanded in forward order), the
    name it was asked by (``keys``: what ``activations`` returns a dict by), the stage as
    asked, and per layer the stages to read (``"both"``: pre and post; None: its default).

    ``single`` is True where one layer was asked for (not a list, not a block).
    """

    layers: tuple[LayerInfo, ...]
    keys: tuple[str, ...]
    stage: StageArg | None
    stages: tuple[tuple[Stage, ...], ...]
    single: bool

    def __iter__(self) -> Iterator[tuple[str, LayerInfo, tuple[Stage, ...]]]:
        """(key, layer, stages) for each layer."""
        return iter(zip(self.keys, self.layers, self.stages, strict=True))

    def __len__(self) -> int:
        return len(self.layers)

    def points(self) -> list[str]:
        """The extractor points the selection reads, in its order, each once."""
        return list(dict.fromkeys(info.point(s) for _, info, stages in self for s in stages))

    def one(self, what: str) -> tuple[LayerInfo, Stage]:
        """The one layer and stage of a selection for ``what`` (an entry point that shows one
        layer at one stage); a ValueError where it names several layers or both stages."""
        parse_stage(self.stage, both=False, what=what)
        if len(self.layers) != 1:
            names = ", ".join(info.name for info in self.layers[:4]) + ", ..." * (len(self.layers) > 4)
            raise ValueError(f"{what} takes one layer; this names {len(self.layers)} layers "
                             f"({names}): give one of them")
        return self.layers[0], self.stages[0][0]
