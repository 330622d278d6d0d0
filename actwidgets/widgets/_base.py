"""Shared widget plumbing: the error line, the PNG picture, the random-weights banner, the
linked layer dropdowns, the stale-render guard and the state machinery of the explorers.

Every explorer keeps its state in traitlets (settable from code, observable) and mirrors it
in its controls. A change of state asks for one render; changes made together (inside
:meth:`ExplorerBase._batch`) give one render at the end. A render that fails (a layer whose
forward pass raises, an odd image) shows a readable message in the widget's error line and
puts the state back as it was when the picture on screen was drawn, so the widget keeps
working. Only the newest render request may write the picture (:class:`RenderGuard`): a
change from the browser (a slider dragged fast) is rendered from the kernel's event loop after
the messages already queued, so a burst of slider messages draws once, the newest.
"""

from __future__ import annotations

import contextlib
import difflib
import html
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets

from .. import pixels
from ..capture import cached_activations
from ..images import SAMPLE_IMAGES, sample_image
from ..model.layers import LayerInfo, LayerNameError

__all__ = [
    "ErrorLine",
    "RenderGuard",
    "LayerPicker",
    "NetWidget",
    "ExplorerBase",
    "LayerExplorerBase",
    "labelled",
    "from_browser",
    "png_image",
    "random_weights_banner",
    "describe_error",
    "enlarge",
    "resolve_image",
    "check_layer_name",
]

#: Pictures whose shorter side is below this are enlarged (nearest neighbour) for display.
MIN_DISPLAY_SIDE = 200

#: Colormaps offered in the dropdowns (any matplotlib name can be set from code).
CMAPS: tuple[str, ...] = ("gray", "viridis", "inferno", "magma", "jet", "turbo", "hot", "bone")

#: Contrast choices: (label, value) as the render module names them.
CONTRAST_OPTIONS: tuple[tuple[str, str], ...] = (
    ("min-max", "minmax"),
    ("percentile", "stretch"),
)
CONTRAST_TOOLTIPS = (
    "Scale the lowest value to black and the highest to white (MATLAB's mat2gray)",
    "Clip the lowest and highest 1% first, then scale (MATLAB's stretchlim + imadjust)",
)


# --------------------------------------------------------------------------- small parts


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
        return html.unescape(re.sub(r"<[^>]+>", "", self.value)).removeprefix("⚠ ").strip()


def png_image(**layout: str) -> widgets.Image:
    """An empty ``widgets.Image`` for PNG bytes, shown at its own size (not stretched to
    the width of the box it sits in)."""
    layout.setdefault("align_self", "flex-start")
    return widgets.Image(format="png", value=b"", layout=widgets.Layout(**layout))


def labelled(text: str, control: widgets.Widget) -> widgets.HBox:
    """``control`` with a label on its left (ToggleButtons put their description above)."""
    return widgets.HBox(
        [widgets.Label(text, layout=widgets.Layout(margin="0 6px 0 8px")), control],
        layout=widgets.Layout(align_items="center"),
    )


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


def enlarge(rgb: np.ndarray, min_side: int = MIN_DISPLAY_SIDE) -> np.ndarray:
    """Enlarge a small (H, W[, 3]) uint8 picture by an integer factor (nearest neighbour)
    until its shorter side reaches ``min_side``; larger pictures come back unchanged."""
    return pixels.enlarge_to(rgb, min_side)


def resolve_image(image: Any) -> Any:
    """A sample image's name gives the sample (unless a file of that name exists); anything
    else is passed on as it is (a path, bytes, PIL image, array or tensor)."""
    if isinstance(image, str) and image in SAMPLE_IMAGES and not os.path.exists(image):
        return sample_image(image)
    return image


def check_layer_name(net: Any, name: Any, owner: str) -> LayerInfo:
    """The listed :class:`LayerInfo` for ``name``, or a TraitError naming the closest layers."""
    if not isinstance(name, str):
        raise traitlets.TraitError(
            f"{owner}.layer must be a layer name (str) such as {net.layers.names[0]!r}, "
            f"got {type(name).__name__}"
        )
    try:
        info = net.layers.get(name)
    except LayerNameError:
        names = net.layers.names
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise traitlets.TraitError(
            f"{owner}.layer: no layer named {name!r}.{hint} net.layers.names lists all "
            f"{len(names)} layers."
        ) from None
    listed = {l.name: l for l in net.layers}
    if info.name in listed:
        return listed[info.name]
    # Another name of a listed layer (an alias or a native point name).
    same = [l for l in net.layers if l.native == info.native]
    if same:
        return same[0]
    raise traitlets.TraitError(
        f"{owner}.layer: {name!r} is a point the layer catalogue hides (it is folded into "
        "another layer); pick one of net.layers.names"
    )


def _running_loop() -> Any:
    """The running asyncio event loop (the kernel's), or None outside one."""
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def from_browser(control: widgets.Widget) -> bool:
    """Whether the change being observed on ``control`` came from the browser.

    ipywidgets locks the properties it received while their observers run."""
    return bool(getattr(control, "_property_lock", None))


# --------------------------------------------------------------------------- render guard


class RenderGuard:
    """A render-generation counter: only the newest request may write the picture.

    >>> guard = RenderGuard()
    >>> old, new = guard.begin(), guard.begin()
    >>> guard.is_current(old), guard.is_current(new)
    (False, True)
    """

    def __init__(self) -> None:
        self.generation = 0
        self.dropped = 0  # stale results thrown away (for tests and curiosity)

    def begin(self) -> int:
        """A token for a new render request; every earlier token becomes stale."""
        self.generation += 1
        return self.generation

    def is_current(self, token: int) -> bool:
        return token == self.generation

    def commit(self, token: int, write: Callable[[], None]) -> bool:
        """Run ``write`` only if ``token`` is the newest request; say whether it ran."""
        if not self.is_current(token):
            self.dropped += 1
            return False
        write()
        return True


# --------------------------------------------------------------------------- layer picker


_GroupKey = tuple  # ("all", "") | ("block", name) | ("kind", kind)


class LayerPicker:
    """Two linked dropdowns: a group (a block such as ``fire6``, every layer of a kind, or all
    layers) and the layer in it, labelled ``fire6-squeeze1x1 · 48 ch · 14×14``.

    ``on_pick(name)`` is called when the person picks a layer. :meth:`show` follows a layer
    set from code without calling ``on_pick``.
    """

    def __init__(
        self,
        layers: Sequence[LayerInfo],
        on_pick: Callable[[str], None],
        *,
        description: str = "layer",
        blocks: bool = True,
    ) -> None:
        self._layers = list(layers)
        if not self._layers:
            raise ValueError("there are no layers to pick from")
        self._on_pick = on_pick
        self._muted = 0
        self._members: dict[_GroupKey, list[LayerInfo]] = {("all", ""): self._layers}
        options: list[tuple[str, _GroupKey]] = []
        by_block: dict[str, list[LayerInfo]] = {}
        by_kind: dict[str, list[LayerInfo]] = {}
        for l in self._layers:
            by_block.setdefault(l.group, []).append(l)
            by_kind.setdefault(l.kind, []).append(l)
        # Blocks only help when they gather layers (a plain Sequential has one per "block").
        self.has_blocks = blocks and len(by_block) < len(self._layers)
        if self.has_blocks:
            for g, members in by_block.items():
                self._members[("block", g)] = members
                options.append((f"{g} ({len(members)})", ("block", g)))
        options.append((f"all layers ({len(self._layers)})", ("all", "")))
        if len(by_kind) > 1:
            for k, members in by_kind.items():
                self._members[("kind", k)] = members
                options.append((f"every {k} ({len(members)})", ("kind", k)))
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
        self.layer.observe(self._layer_changed, "value")
        self.box = widgets.HBox([self.group, self.layer])

    def _layer_options(self, key: _GroupKey) -> list[tuple[str, str]]:
        return [(l.label, l.name) for l in self._members[key]]

    def _home(self, info: LayerInfo) -> _GroupKey:
        return ("block", info.group) if self.has_blocks else ("all", "")

    @contextlib.contextmanager
    def _mute(self) -> Iterator[None]:
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1

    def _group_changed(self, change: Any) -> None:
        if self._muted:
            return
        members = self._members[change.new]
        current = self.layer.value
        with self._mute(), self.layer.hold_sync():
            self.layer.options = self._layer_options(change.new)
            names = [l.name for l in members]
            self.layer.value = current if current in names else names[0]
        if self.layer.value != current:
            self._on_pick(self.layer.value)

    def _layer_changed(self, change: Any) -> None:
        if self._muted or change.new is None:
            return
        self._on_pick(change.new)

    def show(self, info: LayerInfo) -> None:
        """Show ``info`` in the dropdowns (switching group if it is not in the current one)."""
        key = self.group.value
        if info.name not in (l.name for l in self._members[key]):
            key = self._home(info)
        with self._mute(), self.group.hold_sync(), self.layer.hold_sync():
            if self.group.value != key:
                self.group.value = key
                self.layer.options = self._layer_options(key)
            if self.layer.value != info.name:
                self.layer.value = info.name


# --------------------------------------------------------------------------- explorer base


class NetWidget:
    """What every actwidgets widget offers: the network it shows and its error message.

    A mixin for ``VBox`` subclasses that set ``self._net`` and ``self._error`` (an
    :class:`ErrorLine`)."""

    _net: Any
    _error: ErrorLine

    @property
    def net(self) -> Any:
        """The :class:`actwidgets.Network` being looked at."""
        return self._net

    @property
    def error(self) -> str:
        """The error message now shown in the widget ('' when there is none)."""
        return self._error.message


class ExplorerBase(NetWidget, widgets.VBox):
    """The state machinery shared by the explorers (a ``VBox``, so it displays itself).

    Subclasses declare their state traits in ``_state_names`` (order matters when the state
    is restored: the layer before the channel), implement :meth:`_compute` (pure: returns
    what to show, raises on failure) and :meth:`_apply` (writes it into the widgets), and
    call :meth:`_request_render` from their ``_update_*`` observers.
    """

    _state_names: tuple[str, ...] = ()

    def __init__(self, net: Any, **kwargs: Any) -> None:
        self._net = net
        self._ready = False
        self._batch_depth = 0
        self._dirty = False
        self._reverting = False
        self._quiet_depth = 0
        self._defer_depth = 0
        self._shown: dict[str, Any] | None = None
        self._guard = RenderGuard()
        self._error = ErrorLine("")
        self._banner = random_weights_banner(net)
        #: The exception behind the message now shown, for a closer look (its traceback).
        self.last_exception: BaseException | None = None
        super().__init__(**kwargs)
        self.add_class("aw-explorer")  # a stable handle for pages and browser tests

    # ------------------------------------------------------------ public helpers
    @property
    def render_guard(self) -> RenderGuard:
        return self._guard

    def _repr_state(self) -> str:
        names = getattr(self, "_repr_names", self._state_names)
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in names)

    def __repr__(self) -> str:
        text = f"{type(self).__name__}({getattr(self._net, 'name', '?')}, {self._repr_state()})"
        return text if len(text) < 190 else text[:186] + "…)"

    # ------------------------------------------------------------ state machinery
    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Changes made inside give one render at the end (if any asked for one)."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
        if self._batch_depth == 0 and self._dirty:
            self._dirty = False
            self._request_render()

    @contextlib.contextmanager
    def _deferring(self, defer: bool = True) -> Iterator[None]:
        """Renders asked for inside wait for the event loop (see :meth:`_request_render`)."""
        self._defer_depth += bool(defer)
        try:
            yield
        finally:
            self._defer_depth -= bool(defer)

    def _request_render(self) -> None:
        """Render now, or once the current batch ends.

        A change that comes from the browser (a slider being dragged) is rendered from the
        kernel's event loop once the messages already queued are handled: each request
        takes a new render generation, so of a burst of slider messages only the newest is
        drawn and the stale ones are dropped without rendering. Without a running event
        loop (a script, a test) and for changes made from code, the render is immediate.
        """
        if not self._ready or self._reverting:
            return
        if self._batch_depth:
            self._dirty = True
            return
        if self._defer_depth:
            loop = _running_loop()
            if loop is not None:
                token = self._guard.begin()
                loop.call_soon(self._render_later, token)
                return
        self._render()

    def _render_later(self, token: int) -> None:
        if not self._guard.is_current(token):
            self._guard.dropped += 1  # a newer request came: never draw this one
            return
        try:
            result = self._compute()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            self._fail(exc)
            return
        self._finish(token, result)

    def _snapshot(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self._state_names}

    def _render(self) -> bool:
        """Render the current state; on failure show the error and restore the shown state."""
        token = self._guard.begin()
        try:
            result = self._compute()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            self._fail(exc)
            return False
        return self._finish(token, result)

    def _finish(self, token: int, result: Any) -> bool:
        """Write ``result`` if ``token`` is still the newest request (else drop it)."""

        def write() -> None:
            self._apply(result)
            self._shown = self._snapshot()
            self._error.clear()
            self.last_exception = None

        try:
            return self._guard.commit(token, write)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc)
            return False

    def _report(self, exc: BaseException, context: str = "") -> None:
        """Show ``exc`` in the error line (the widget goes on working)."""
        self.last_exception = exc
        self._error.show(exc, context)

    def _fail(self, exc: BaseException, context: str = "") -> None:
        self._report(exc, context)
        self._restore()

    def _restore(self) -> None:
        if self._shown is None or self._reverting:
            return
        self._reverting = True
        try:
            for name, value in self._shown.items():
                if getattr(self, name) != value:
                    setattr(self, name, value)
        finally:
            self._reverting = False

    def _guarded(self, context: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` from a callback: any error shows in the widget, none escapes."""
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, context)
            return None

    def _link(self, control: widgets.ValueWidget, name: str, context: str | None = None) -> None:
        """Person → state: the control's value sets trait ``name`` (errors go to the error
        line and the control snaps back)."""

        def changed(change: Any) -> None:
            if self._quiet_depth or getattr(self, name) == change.new:
                return
            try:
                with self._deferring(from_browser(control)):
                    setattr(self, name, change.new)
            except Exception as exc:  # noqa: BLE001
                self._report(exc, context or name)
                self._sync(control, getattr(self, name))

        control.observe(changed, "value")

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """Control changes made inside do not set the state (new options, for instance)."""
        self._quiet_depth += 1
        try:
            yield
        finally:
            self._quiet_depth -= 1

    def _set_options(self, control: widgets.Dropdown, options: Sequence[Any], value: Any) -> None:
        """Replace a dropdown's options and keep showing ``value`` (ipywidgets would jump
        to the first option, which must not change the state)."""
        with self._quiet(), control.hold_sync():
            control.options = list(options)
            control.value = value

    @staticmethod
    def _sync(control: widgets.ValueWidget, value: Any) -> None:
        """State → control, only when they differ (no message for an unchanged value)."""
        if control.value != value:
            control.value = value

    # ------------------------------------------------------------ to implement
    def _compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, result: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------ shared validation
    def _validate_channel_index(self, value: Any, channels: int, what: str, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise traitlets.TraitError(
                f"{type(self).__name__}.{name} must be an int, got {value!r}"
            )
        if not 0 <= int(value) < channels:
            raise traitlets.TraitError(
                f"{type(self).__name__}.{name} = {int(value)} is out of range: {what} has "
                f"{channels} {'channel' if channels == 1 else 'channels'}, so use 0..{channels - 1}"
            )
        return int(value)

    @staticmethod
    def _validate_cmap(value: Any, owner: str) -> str:
        try:
            pixels.colormap_lut(value)
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(f"{owner}.cmap: {exc}") from None
        return value


def cmap_dropdown(value: str) -> widgets.Dropdown:
    options = list(CMAPS) if value in CMAPS else [*CMAPS, value]
    return widgets.Dropdown(
        options=options, value=value, description="colormap",
        layout=widgets.Layout(width="170px"), style={"description_width": "initial"},
    )


def contrast_toggle(value: str) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=list(CONTRAST_OPTIONS), value=value,
        tooltips=list(CONTRAST_TOOLTIPS),
        style={"button_width": "96px"},
        layout=widgets.Layout(width="auto"),
    )


def stage_toggle(value: str) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=[("pre-ReLU", "pre"), ("post-ReLU", "post")], value=value,
        tooltips=["The value before the activation", "The value after the activation"],
        style={"button_width": "96px"},
        layout=widgets.Layout(width="auto"),
    )


def update_stage_toggle(toggle: widgets.ToggleButtons, info: LayerInfo) -> None:
    """Enable the toggle where the layer has two stages; else disable it and say why."""
    with toggle.hold_sync():
        if info.has_stages:
            toggle.disabled = False
            toggle.tooltip = f"{info.name}: show the value before or after its activation"
            toggle.tooltips = ["The value before the activation", "The value after the activation"]
        else:
            why = (
                f"{info.name} is a {info.kind} layer with no activation (ReLU) right after "
                "it: before and after are the same value"
            )
            toggle.disabled = True
            toggle.tooltip = why
            toggle.tooltips = [why, why]


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


def to_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of a rendered picture, enlarged first when it is small."""
    big = enlarge(rgb)
    return pixels.to_png(big)


# --------------------------------------------------------------------------- layer explorers


class LayerExplorerBase(ExplorerBase):
    """Shared state of the activation explorers: a layer, its stage, a channel, a colormap
    and a contrast, each mirrored by a control. Subclasses build ``_picker`` (a
    :class:`LayerPicker` calling :meth:`_pick_layer`), ``_stage_tb``, ``_slider``,
    ``_cmap_dd`` and ``_contrast_tb`` before setting any state, and implement the render."""

    layer = traitlets.Unicode(help="Name of the layer shown (net.layers.names; aliases are accepted)")
    stage = traitlets.Enum(
        ("pre", "post"), "post", help='"pre": before the activation (ReLU); "post": after it'
    )
    channel = traitlets.Int(0, help="The selected channel, 0..channels-1 of the layer")
    cmap = traitlets.Unicode("gray", help="Matplotlib colormap name for the activation maps")
    contrast = traitlets.Enum(
        ("minmax", "stretch"), "minmax",
        help='"minmax": min to black, max to white (mat2gray); "stretch": clip the 1% tails first (stretchlim)',
    )

    def __init__(self, net: Any, **kwargs: Any) -> None:
        from ..model.network import Network

        if not isinstance(net, Network):
            raise TypeError(
                f"{type(self).__name__} takes an actwidgets.Network, got {type(net).__name__}; "
                "use actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
            )
        super().__init__(net, **kwargs)
        self._infos: dict[str, LayerInfo] = {l.name: l for l in net.layers}

    def _build_layer_controls(self) -> None:
        layers = list(self._net.layers)
        self._picker = LayerPicker(layers, self._pick_layer)
        self._stage_tb = stage_toggle("post")
        self._slider = widgets.IntSlider(
            value=0, min=0, max=max(0, layers[0].channels - 1), description="channel",
            continuous_update=True, layout=widgets.Layout(width="420px"),
        )
        self._cmap_dd = cmap_dropdown("gray")
        self._contrast_tb = contrast_toggle("minmax")
        self._link(self._stage_tb, "stage")
        self._link(self._slider, "channel")
        self._link(self._cmap_dd, "cmap")
        self._link(self._contrast_tb, "contrast")

    def _default_layer(self) -> str:
        layers = self._net.layers
        return (next((l for l in layers if l.kind == "conv"), None) or layers[0]).name

    def _set_layer_state(
        self, layer: str | None, stage: str | None, channel: int, cmap: str, contrast: str
    ) -> None:
        self.layer = layer if layer is not None else self._default_layer()
        if stage is not None:
            self.stage = stage
        self.channel = channel
        self.cmap = cmap
        self.contrast = contrast

    # ------------------------------------------------------------ validation
    @traitlets.validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return check_layer_name(self._net, proposal["value"], type(self).__name__).name

    @traitlets.validate("channel")
    def _valid_channel(self, proposal: Any) -> int:
        info = self._infos.get(self.layer)
        channels = info.channels if info is not None else 1 << 30
        return self._validate_channel_index(proposal["value"], channels, repr(self.layer), "channel")

    @traitlets.validate("cmap")
    def _valid_cmap(self, proposal: Any) -> str:
        return self._validate_cmap(proposal["value"], type(self).__name__)

    # ------------------------------------------------------------ observers
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
        cache captures both and flipping pre/post costs no second pass.
        """
        info, point = self._info, self.point
        found = cached_activations(self._net, list(pictures), [info.pre, info.post])
        return [f[point] for f in found]

    def _pick_layer(self, name: str) -> None:
        browser = from_browser(self._picker.layer) or from_browser(self._picker.group)
        try:
            with self._deferring(browser):
                self.layer = name
        except Exception as exc:  # noqa: BLE001
            self._report(exc, "layer")
            self._picker.show(self._info)

    @traitlets.observe("layer")
    def _update_layer(self, change: Any) -> None:
        info = self._infos[change.new]
        with self._batch():
            self._picker.show(info)
            self.stage = info.default_stage
            if self.channel >= info.channels:
                self.channel = info.channels - 1
            with self._slider.hold_sync():
                self._slider.max = info.channels - 1
                self._sync(self._slider, self.channel)
            update_stage_toggle(self._stage_tb, info)
            self._request_render()

    @traitlets.observe("stage")
    def _update_stage(self, change: Any) -> None:
        self._sync(self._stage_tb, change.new)
        self._request_render()

    @traitlets.observe("channel")
    def _update_channel(self, change: Any) -> None:
        self._sync(self._slider, change.new)
        self._request_render()

    @traitlets.observe("cmap")
    def _update_cmap(self, change: Any) -> None:
        if change.new not in self._cmap_dd.options:
            self._set_options(self._cmap_dd, [*self._cmap_dd.options, change.new], change.new)
        self._sync(self._cmap_dd, change.new)
        self._request_render()

    @traitlets.observe("contrast")
    def _update_contrast(self, change: Any) -> None:
        self._sync(self._contrast_tb, change.new)
        self._request_render()
