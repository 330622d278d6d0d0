"""The parts every widget is built from: the error line, the random-weights banner, the PNG
picture, labelled controls, the colormap / contrast / stage controls, the checks shared by the
traits' validators, and the picture of a layer whose maps are 1×1.

Nothing here holds state of its own: the state machine is :mod:`._state`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .. import pixels
from ..model.layers import LayerInfo, LayerNameError
from ..model.selection import parse_stage, stages_of
from ..pixels.views import CMAPS, CONTRAST_LABELS, OUTLINE_RGB, fmt

__all__ = [
    "ErrorLine", "describe_error", "fmt", "plain_text", "png_image", "set_png", "labelled",
    "random_weights_banner",
    "check_layer_name", "check_stage", "LayerTrait", "StageTrait", "check_index", "Index",
    "check_cmap", "cmap_dropdown",
    "show_cmap", "contrast_toggle", "stage_toggle", "update_stage_toggle", "limits_of",
    "to_png", "value_bars", "MIN_DISPLAY_SIDE", "CMAPS",
]

#: Pictures whose shorter side is below this are enlarged (nearest neighbour) for display.
MIN_DISPLAY_SIDE = 200

#: Contrast choices (label, value) and their tooltips.
CONTRAST_OPTIONS: tuple[tuple[str, str], ...] = tuple(
    (label, value) for value, label in CONTRAST_LABELS.items())
CONTRAST_TOOLTIPS = (
    "Scale the lowest value to black and the highest to white (MATLAB's mat2gray)",
    "Clip the lowest and highest 1% first, then scale (MATLAB's stretchlim + imadjust)",
)
STAGE_TOOLTIPS = ("The value before the activation", "The value after the activation")

SELECTED_RGB = OUTLINE_RGB


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


class ErrorLine(widgets.HTML):
    """One line of HTML that shows the last error (red) and is empty otherwise.

    It carries the CSS class ``aw-error``, so a page (or a browser test) can find it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_class("aw-error")

    def show(self, error: BaseException | str, context: str = "") -> None:
        """Show ``error`` (an exception or a sentence), after ``context:`` when given."""
        message = error if isinstance(error, str) else describe_error(error)
        if len(message) > 1200:
            message = message[:1200] + " …"
        prefix = f"<b>{html.escape(context)}:</b> " if context else ""
        self.value = (
            '<div style="color:#b00020;background:#fdecea;border-left:4px solid #b00020;'
            'padding:4px 8px;margin:2px 0;white-space:pre-wrap;font-family:sans-serif">'
            f"⚠ {prefix}{html.escape(message)}</div>"
        )

    def clear(self) -> None:
        if self.value:
            self.value = ""

    @property
    def message(self) -> str:
        """The text now shown (empty when there is no error)."""
        return plain_text(self.value).removeprefix("⚠ ").strip()


def plain_text(markup: str) -> str:
    """The text of a line of HTML (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def random_weights_banner(net: Any) -> widgets.HTML:
    """A warning banner when ``net`` has random weights; an empty, hidden HTML otherwise."""
    if getattr(net, "pretrained", True):
        return widgets.HTML("", layout=widgets.Layout(display="none"))
    name = html.escape(str(getattr(net, "name", "this network")))
    return widgets.HTML(
        '<div style="background:#fff4ce;border-left:4px solid #f0a000;padding:4px 8px;'
        'margin:2px 0;font-family:sans-serif">'
        f"<b>Random weights:</b> {name} was not loaded with trained weights, so what it "
        "shows is not what a trained network sees. Load it with weights=\"DEFAULT\" (or a "
        "weights file) for real features.</div>"
    )


# --------------------------------------------------------------------------- controls


def png_image(**layout: str) -> widgets.Image:
    """An empty ``widgets.Image`` for PNG bytes, shown at its own size (not stretched to
    the width of the box it sits in)."""
    layout.setdefault("align_self", "flex-start")
    return widgets.Image(format="png", value=b"", layout=widgets.Layout(**layout))


def set_png(image: widgets.Image, data: bytes) -> None:
    """Show PNG bytes in ``image``; an empty one is hidden (no broken-picture icon)."""
    with image.hold_sync():
        image.value = data
        image.layout.display = "" if data else "none"


def labelled(text: str, control: widgets.Widget) -> widgets.HBox:
    """``control`` with a label on its left (ToggleButtons put their description above)."""
    return widgets.HBox(
        [widgets.Label(text, layout=widgets.Layout(margin="0 6px 0 8px")), control],
        layout=widgets.Layout(align_items="center"),
    )


def cmap_dropdown(value: str, description: str = "colormap") -> widgets.Dropdown:
    options = list(CMAPS) if value in CMAPS else [*CMAPS, value]
    return widgets.Dropdown(
        options=options, value=value, description=description,
        layout=widgets.Layout(width="170px"), style={"description_width": "initial"},
    )


def show_cmap(dropdown: widgets.Dropdown, value: str) -> None:
    """Show colormap ``value`` in ``dropdown``, adding it to the options when it is new."""
    with dropdown.hold_sync():
        if value not in dropdown.options:
            dropdown.options = [*dropdown.options, value]
        dropdown.value = value


def contrast_toggle(value: str) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=list(CONTRAST_OPTIONS), value=value, tooltips=list(CONTRAST_TOOLTIPS),
        style={"button_width": "96px"}, layout=widgets.Layout(width="auto"),
    )


def stage_toggle(value: str) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=[("pre-ReLU", "pre"), ("post-ReLU", "post")], value=value,
        tooltips=list(STAGE_TOOLTIPS), style={"button_width": "96px"},
        layout=widgets.Layout(width="auto"),
    )


def update_stage_toggle(toggle: widgets.ToggleButtons, info: LayerInfo) -> None:
    """Enable the toggle where the layer has two stages; else disable it and say why."""
    with toggle.hold_sync():
        if info.has_stages:
            toggle.disabled = False
            toggle.tooltip = f"{info.name}: show the value before or after its activation"
            toggle.tooltips = list(STAGE_TOOLTIPS)
        else:
            why = (
                f"{info.name} is a {info.kind} layer with no activation (ReLU) right after "
                "it: before and after are the same value"
            )
            toggle.disabled = True
            toggle.tooltip = why
            toggle.tooltips = [why, why]


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


def limits_of(arrays: Sequence[np.ndarray], contrast: str) -> tuple[float, float]:
    """One (lo, hi) for several arrays together (to compare them with the same scale)."""
    flat = np.concatenate([np.asarray(a, dtype=np.float32).reshape(-1) for a in arrays])
    if contrast == "stretch":
        lo, hi = pixels.stretchlim(flat)
    else:
        lo, hi = float(flat.min()), float(flat.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("the activations contain NaN or inf")
    if hi <= lo:  # a constant map: any non-empty span draws it as the lowest colour
        hi = lo + 1.0
    return float(lo), float(hi)


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
    colours = np.array([(255, 255, 255), (90, 110, 140), (255, 214, 196), SELECTED_RGB,
                        (0, 0, 0)], np.uint8)
    return pixels.Indexed(index, colours)
