"""What an activation explorer shows, for the widget and the exported page alike: its state
(:class:`ExplorerState`, checked in one place) and the names of its images (:func:`image_names`).

``ActivationExplorer(...)``, ``export_html(...)`` and ``static_explorer(...)`` take the seven
fields as keyword arguments, or ``state=ExplorerState(...)``; ``explorer.state`` is the one
shown now, so ``aw.export_html(net, images, layers, path, state=explorer.state)`` opens on it.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> state = ExplorerState(layer="fire6", channel=3)
>>> state.resolved(net, images=["face"])
Traceback (most recent call last):
ValueError: an explorer takes one layer; this names 7 layers (fire6-squeeze1x1, ...): give one of them
>>> ExplorerState(layer=-1).resolved(net, images=["face"])
ExplorerState(image='face', layer='pool10', stage='post', channel=0, view='grid', cmap='gray',
              contrast='minmax')
>>> [name for name, _ in image_names(["cat", "cat", "photos/dog.jpg", net.image("face")])]
['cat', 'cat (2)', 'dog.jpg', 'image 4']
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import pixels
from .model.selection import Stage, parse_stage
from .pixels.views import VIEWS
from .samples import SAMPLE_IMAGES

if TYPE_CHECKING:
    from .model.layers import LayerInfo

__all__ = ["ExplorerState", "image_names", "unique_name"]


@dataclass(frozen=True)
class ExplorerState:
    """An explorer's state: ``image`` (a name; None: the first), ``layer`` (any one-layer
    argument: a name, an alias, an index; None: the first conv), ``stage`` (``"pre"``,
    ``"post"``; None: the layer's default), ``channel``, ``view``, ``cmap``, ``contrast``.

    Made, the fields a network is not needed for are checked (a ValueError that says what to
    give); :meth:`resolved` checks the rest against a network and fills in the defaults.

    >>> ExplorerState(view="side")
    Traceback (most recent call last):
    ValueError: view must be one of ('grid', 'channel', 'overlay'), got 'side'
    """

    image: str | None = None
    layer: Any = None
    stage: Stage | None = None
    channel: int = 0
    view: str = "grid"
    cmap: str = "gray"
    contrast: str = "minmax"

    def __post_init__(self) -> None:
        parse_stage(self.stage)  # "both" is refused by resolved, in its owner's words
        c = self.channel
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0:
            raise ValueError(f"channel must be a whole number 0, 1, 2, ..., got {c!r}")
        object.__setattr__(self, "channel", int(c))
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, got {self.view!r}")
        pixels.colormap_lut(self.cmap)  # a ValueError naming close colormaps
        if self.contrast not in pixels.CONTRASTS:
            raise ValueError(f"contrast must be one of {pixels.CONTRASTS}, got {self.contrast!r}")

    @classmethod
    def of(cls, state: ExplorerState | None = None, **fields: Any) -> ExplorerState:
        """``state`` with the ``fields`` given that are not at their defaults put in (the
        keyword arguments of the explorer and the export); the fields alone without it."""
        if state is None:
            return cls(**fields)
        if not isinstance(state, ExplorerState):
            raise TypeError(f"state must be an ExplorerState (explorer.state gives one), got "
                            f"{type(state).__name__}")
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        return dataclasses.replace(state, **{k: v for k, v in fields.items() if v != defaults[k]})

    def resolved(self, net: Any, *, images: Sequence[str], layers: Sequence[LayerInfo] | None = None,
                 contrasts: Collection[str] = pixels.CONTRASTS, owner: str = "an explorer",
                 what: str = "images") -> ExplorerState:
        """This state on ``net`` with ``images`` (names) and ``layers`` (None: all) on offer:
        the listed layer's name, its stage, the first image and conv where None; a ValueError
        (the resolver's sentence for a layer or stage) where a field does not fit. ``what``
        names the images in that sentence, ``owner`` the one that takes one layer and stage."""
        image = images[0] if self.image is None else self.image
        if image not in images:
            raise ValueError(f"image {image!r} is not among the {what} {list(images)}")
        chosen = list(net.layers) if layers is None else list(layers)
        first = next((lay for lay in chosen if lay.kind == "conv"), chosen[0]).name
        asked = net.layers.select(first if self.layer is None else self.layer, self.stage)
        info, stage = asked.one(owner)
        info = net.layers.listed(info)
        if info.name not in {lay.name for lay in chosen}:
            raise ValueError(f"layer {info.name!r} is not among the exported layers; add it to layers")
        if self.channel >= info.channels:
            raise ValueError(f"channel {self.channel} is out of range: {info.name!r} has channels "
                             f"0..{info.channels - 1}")
        if self.contrast not in contrasts:
            raise ValueError(f"contrast {self.contrast!r} is not among the exported contrasts "
                             f"{tuple(contrasts)}")
        return dataclasses.replace(self, image=image, layer=info.name, stage=stage)


def unique_name(name: Any, taken: Collection[str]) -> str:
    """``name`` (``"image"`` if empty), or ``"name (2)"``, ``"name (3)"``... if taken."""
    name = str(name) or "image"
    k = 2
    out = name
    while out in taken:
        out, k = f"{name} ({k})", k + 1
    return out


def image_names(images: Any) -> list[tuple[str, Any]]:
    """(name, image) for an explorer's ``images`` argument, the one naming rule: a dict's
    keys; else, for each of a list (or a single image): a sample's name (where no file has
    that name), a path's file name, or ``"image 1"``, ``"image 2"``... by position; names
    given twice become ``"cat (2)"``. None: no images."""
    if images is None:
        return []
    if isinstance(images, Mapping):
        items = [(str(k), v) for k, v in images.items()]
    else:
        many = isinstance(images, (list, tuple))
        items = [(_name_of(v, i), v) for i, v in enumerate(images if many else [images])]
    out: list[tuple[str, Any]] = []
    for name, image in items:
        out.append((unique_name(name, [n for n, _ in out]), image))
    return out


def _name_of(image: Any, i: int) -> str:
    if isinstance(image, str) and image in SAMPLE_IMAGES and not os.path.exists(image):
        return image
    if isinstance(image, (str, os.PathLike)):
        return Path(image).name
    return f"image {i + 1}"
