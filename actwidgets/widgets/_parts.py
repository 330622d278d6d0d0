"""What the widgets share in Python: error messages as sentences, the checks behind the traits'
validators (layer and stage as ``activations`` reads them, indices, colormaps), PNG bytes of a
picture and the picture of a layer whose maps are 1×1 (the page draws the rest).

Nothing here holds state of its own: the state machine is :mod:`._state`.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import traitlets

from .. import pixels
from ..model.layers import LayerInfo, LayerNameError
from ..model.selection import parse_stage, stages_of
from ..pixels.views import CMAPS, OUTLINE_RGB, fmt

__all__ = [
    "describe_error", "fmt", "plain_text", "check_layer_name", "check_stage", "LayerTrait",
    "StageTrait", "check_index", "Index", "check_cmap", "to_png", "value_bars",
    "MIN_DISPLAY_SIDE", "CMAPS",
]

#: Pictures whose shorter side is below this are enlarged (nearest neighbour) for display.
MIN_DISPLAY_SIDE = 200


# --------------------------------------------------------------------------- messages


def describe_error(exc: BaseException) -> str:
    """A one-paragraph, readable message for an exception raised inside a callback."""
    text = str(exc).strip()
    if isinstance(exc, KeyError) and not isinstance(exc, LayerNameError) and len(exc.args) == 1:
        text = str(exc.args[0])
    kind = type(exc).__name__
    if not text:
        return kind
    if isinstance(exc, (traitlets.TraitError, ValueError, TypeError, LayerNameError)):
        return text
    return f"{kind}: {text}"


def plain_text(markup: str) -> str:
    """The text of a line of HTML (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


# --------------------------------------------------------------------------- controls


# --------------------------------------------------------------------------- checks


def check_layer_name(net: Any, name: Any, owner: str) -> LayerInfo:
    """The listed :class:`LayerInfo` for ``name`` (one layer, in any form ``activations``
    takes: a name, an alias, an index), or a TraitError with the sentence it would give.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> check_layer_name(net, -1, "W").name
    'pool10'
    >>> check_layer_name(net, "fire6-squeez", "W")
    Traceback (most recent call last):
    traitlets.traitlets.TraitError: W.layer: no layer named 'fire6-squeez'. Closest: fire6-squeeze1x1, ...
    """
    try:
        return net.layers.listed(net.layers.select(name).one(owner)[0])
    except (LookupError, ValueError, TypeError) as exc:
        raise traitlets.TraitError(f"{owner}.layer: {exc}") from None


def check_stage(info: LayerInfo | None, value: Any, owner: str) -> str:
    """``value`` as the stage of layer ``info`` (None: its default stage), or a TraitError
    with the sentence ``activations`` gives for it (a stage the layer does not have too)."""
    try:
        stage = parse_stage(value, both=False, what=owner)
        return (stage or "post") if info is None else stages_of(info, stage)[0]
    except ValueError as exc:
        raise traitlets.TraitError(f"{owner}.stage: {exc}") from None


class LayerTrait(traitlets.Unicode):
    """A widget's ``layer``: a listed name. Another one-layer argument (an index, an alias, a
    :class:`LayerInfo`) passes, for the widget's validator (:func:`check_layer_name`) to make
    it the listed name, as ``activations`` reads it."""

    def validate(self, obj: Any, value: Any) -> Any:
        return super().validate(obj, value) if isinstance(value, str) else value


class StageTrait(traitlets.Unicode):
    """A widget's ``stage``: ``"pre"`` or ``"post"``; any other value gets the resolver's
    sentence. None passes, for the widget's validator (:func:`check_stage`) to make it the
    layer's default stage, and to refuse a stage the layer does not have."""

    def validate(self, obj: Any, value: Any) -> str | None:
        owner = type(obj).__name__
        try:
            return parse_stage(value, both=False, what=owner)
        except ValueError as exc:
            raise traitlets.TraitError(f"{owner}.{self.name}: {exc}") from None


class Index(traitlets.Int):
    """An ``Int`` trait (a channel, a filter) whose value of another type gets a sentence
    that names the widget and the way out, not traitlets' generic message.

    >>> class W(traitlets.HasTraits):
    ...     channel = Index(0)
    >>> W().channel = "7"
    Traceback (most recent call last):
    traitlets.traitlets.TraitError: W.channel must be a whole number (an int), got the text '7': ...
    """

    def validate(self, obj: Any, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            where = f"{type(obj).__name__}.{self.name}"
            got = f"the text {value!r}" if isinstance(value, str) else f"{value!r} ({type(value).__name__})"
            text = value.strip() if isinstance(value, str) else ""
            if text.isdigit():
                way = f"write {where} = {int(text)}"
            elif isinstance(value, float) and value.is_integer():
                way = f"write {where} = {int(value)}"
            else:
                way = "indices are whole numbers 0, 1, 2, …; round it first, e.g. int(x)"
            raise traitlets.TraitError(f"{where} must be a whole number (an int), got {got}: {way}")
        return int(value)


def check_index(owner: str, name: str, value: Any, count: int, what: str) -> int:
    """``value`` as an int in 0..count-1, or a TraitError that says the valid range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise traitlets.TraitError(f"{owner}.{name} must be an int, got {value!r}")
    if not 0 <= int(value) < count:
        raise traitlets.TraitError(
            f"{owner}.{name} = {int(value)} is out of range: {what} has {count} "
            f"{'channel' if count == 1 else 'channels'}, so use 0..{count - 1}"
        )
    return int(value)


def check_cmap(owner: str, value: Any) -> str:
    """``value`` if it names a colormap, else a TraitError saying why."""
    try:
        pixels.colormap_lut(value)
    except (TypeError, ValueError) as exc:
        raise traitlets.TraitError(f"{owner}.cmap: {exc}") from None
    return value


# --------------------------------------------------------------------------- pictures


def to_png(rgb: Any, min_side: int = MIN_DISPLAY_SIDE) -> bytes:
    """PNG bytes of a rendered picture, enlarged first when its shorter side is small."""
    return pixels.to_png(pixels.enlarge_to(rgb, min_side))


def value_bars(values: np.ndarray, selected: int, *, height: int = MIN_DISPLAY_SIDE,
               width: int = 640) -> pixels.Indexed:
    """One value per channel as a bar chart (a layer whose maps are 1×1): bars from the zero
    line, in channel order, the ``selected`` channel's bar in the selection colour on a light
    band, so it can be found among a thousand.

    >>> value_bars(np.array([1.0, -0.5, 2.0]), 2).shape
    (200, 639, 3)
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64).reshape(-1))
    k = max(1, width // v.size)  # pixels per bar
    lo, hi = min(0.0, float(v.min())), max(0.0, float(v.max()))
    span = (hi - lo) or 1.0
    zero = int(round(hi / span * (height - 1)))  # the row of the zero line
    ends = np.round((hi - v) / span * (height - 1)).astype(int)  # the row each bar reaches
    rows = np.arange(height)[:, None]
    bars = (rows >= np.minimum(ends, zero)) & (rows <= np.maximum(ends, zero))
    index = np.repeat(bars.astype(np.uint8), k, axis=1)  # 0 background, 1 bar
    pad = 0 if k >= 5 else 2  # a band a few pixels wide even when bars are one pixel
    x0, x1 = int(selected) * k, (int(selected) + 1) * k
    band = index[:, max(0, x0 - pad):x1 + pad]
    band[band == 0] = 2
    index[:, x0:x1][index[:, x0:x1] == 1] = 3
    index[zero, index[zero] != 3] = 4
    colours = np.array([(255, 255, 255), (90, 110, 140), (255, 214, 196), OUTLINE_RGB,
                        (0, 0, 0)], np.uint8)
    return pixels.Indexed(index, colours)
