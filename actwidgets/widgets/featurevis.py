"""``FeatureVisualizer``: what the channels of a layer look for, by activation maximisation.

Pick a layer and some channels, a method (``regularized``: lucid-style, recognisable
pictures; ``basic``: the Keras VGG16 walkthrough's plain gradient ascent), the number of steps
and the picture size, then press **Run**: a progress bar follows the optimisation, the
pictures appear as one grid, and a dropdown shows any one of them larger.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> fv = aw.FeatureVisualizer(net, "fire4-relu_expand3x3")
>>> fv.channels = "0-3"; fv.steps = 2; fv.size = 32
>>> fv.run()
True
>>> fv.images.shape
(4, 32, 32, 3)
"""

from __future__ import annotations

import html
import re
import time
import warnings
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from traitlets import Enum, Int, Unicode, observe, validate

from .. import pixels
from ..featurevis import METHODS, visualize_channels
from ..model.layers import LayerInfo
from . import _base

__all__ = ["FeatureVisualizer", "parse_channels"]

#: The widget's default steps per method (quick enough to wait for on a CPU).
DEFAULT_STEPS = {"regularized": 128, "basic": 20}
#: The grid and the enlarged picture are drawn at least this large.
_GRID_SIDE = 300
_BIG_SIDE = 320
#: At most this many channels per run (one batch: memory grows with it).
MAX_CHANNELS = 64

_SPEC = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_channels(spec: Any, count: int | None = None) -> list[int]:
    """Channels from a spec such as ``"0-7"``, ``"1,5,9"`` or ``"0-3, 10"`` (ends included).

    A list of ints is taken as it is. ``count`` (the layer's channel count) checks the range.

    >>> parse_channels("0-3, 10")
    [0, 1, 2, 3, 10]
    """
    if isinstance(spec, (list, tuple, range)):
        out = []
        for c in spec:
            if isinstance(c, bool) or not isinstance(c, (int, np.integer)):
                raise ValueError(f"channel indices are ints, got {c!r}")
            out.append(int(c))
    elif isinstance(spec, str):
        out = []
        parts = [p for p in spec.split(",")]
        if not spec.strip():
            raise ValueError('no channels given: write them like "0-7" or "1,5,9"')
        for part in parts:
            m = _SPEC.match(part)
            if m is None:
                raise ValueError(
                    f'cannot read channels {spec!r}: {part.strip()!r} is neither a number nor a '
                    'range; write them like "0-7", "1,5,9" or "0-3,10"'
                )
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) is not None else lo
            if hi < lo:
                raise ValueError(f"channel range {part.strip()!r} runs backwards; write it as {hi}-{lo}")
            if hi - lo >= 10_000:
                raise ValueError(f"channel range {part.strip()!r} is too long")
            out.extend(range(lo, hi + 1))
    else:
        raise ValueError(f'channels are a spec such as "0-7" or "1,5,9", got {type(spec).__name__}')
    if not out:
        raise ValueError('no channels given: write them like "0-7" or "1,5,9"')
    if count is not None:
        bad = [c for c in out if not 0 <= c < count]
        if bad:
            raise ValueError(
                f"channel {bad[0]} is out of range: this layer has {count} channels, so use 0..{count - 1}"
            )
    if len(out) > MAX_CHANNELS:
        raise ValueError(f"{len(out)} channels at once is too many for one run; pick at most {MAX_CHANNELS}")
    return out


def _default_layer(layers: list[LayerInfo]) -> LayerInfo:
    """A middle ReLU layer (or the middle layer): a good first look."""
    relus = [l for l in layers if l.kind == "relu"] or layers
    return relus[min(len(relus) - 1, (len(relus) * 2) // 5)]


class FeatureVisualizer(_base.NetWidget, widgets.VBox):
    """Activation maximisation for the channels of one layer of ``net``, on a button press.

    State (traitlets, settable from code): ``layer``, ``channels`` (a spec such as ``"0-7"``
    or ``"1,5,9"``), ``method``, ``steps``, ``size``, ``seed`` and ``selected`` (the channel
    shown larger). :meth:`run` (what the button calls) optimises, shows the grid and returns
    whether it worked; errors appear as a message inside the widget, which keeps working.
    """

    layer = Unicode(help="Name of the layer whose channels are visualised (net.layers.names)")
    channels = Unicode("0-7", help='Channels to visualise: "0-7", "1,5,9" or "0-3,10" (ends included)')
    method = Enum(
        METHODS, "regularized",
        help='"regularized": lucid-style (Fourier image, random transforms, Adam); '
        '"basic": the Keras walkthrough\'s plain gradient ascent on the pixels',
    )
    steps = Int(DEFAULT_STEPS["regularized"], help="Optimisation steps (each one forward and backward pass)")
    size = Int(128, help="Side of the square pictures, in pixels")
    seed = Int(0, help="Random seed: the same seed gives the same pictures")
    selected = Int(-1, help="The channel shown larger (one of the computed channels; -1: none yet)")

    def __init__(self, net: Any, layer: str | None = None, **kwargs: Any) -> None:
        from ..model.network import Network

        if not isinstance(net, Network):
            raise TypeError(
                f"FeatureVisualizer takes an actwidgets.Network, got {type(net).__name__}; "
                "use actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
            )
        self._net = net
        self._layers = [l for l in net.layers if l.kind != "input"]
        if not self._layers:
            raise ValueError(f"{net.name} has no layers to visualise")
        self._infos = {l.name: l for l in self._layers}
        self._images: np.ndarray | None = None
        self._computed: list[int] = []
        self._quiet = 0
        self._busy = False
        super().__init__()

        first = _default_layer(self._layers) if layer is None else self._check_layer(layer)
        self._banner = _base.random_weights_banner(net)
        self._error = _base.ErrorLine("")
        self._layer_dd = widgets.Dropdown(
            options=[(l.label, l.name) for l in self._layers], value=first.name,
            description="layer", layout=widgets.Layout(width="auto", min_width="320px"),
        )
        self._channels_tx = widgets.Text(
            value=self.channels, description="channels", placeholder="0-7 or 1,5,9",
            continuous_update=False, layout=widgets.Layout(width="240px"),
        )
        self._range_lb = widgets.HTML("")
        self._method_tb = widgets.ToggleButtons(
            options=list(METHODS), value=self.method, description="method",
            tooltips=[
                "lucid-style: decorrelated Fourier image, random jitter/scale/rotation, Adam",
                "the Keras walkthrough: plain gradient ascent on the pixels from grey noise",
            ],
            style={"button_width": "100px"},
        )
        self._steps_it = widgets.BoundedIntText(
            value=self.steps, min=1, max=100_000, description="steps",
            layout=widgets.Layout(width="160px"),
        )
        self._size_it = widgets.BoundedIntText(
            value=self.size, min=16, max=1024, description="size (px)",
            layout=widgets.Layout(width="170px"),
        )
        self._run_bt = widgets.Button(
            description="Run", button_style="primary", icon="play",
            tooltip="Optimise one picture per channel (all together, as one batch)",
        )
        self._progress = widgets.IntProgress(
            value=0, min=0, max=self.steps, description="", bar_style="",
            layout=widgets.Layout(width="320px"),
        )
        self._status = widgets.HTML("")
        self._grid = _base.png_image()
        self._select_dd = widgets.Dropdown(
            options=[], description="enlarge", layout=widgets.Layout(width="200px"),
            tooltip="One of the computed channels, shown larger",
        )
        self._big = _base.png_image()

        self._watch(self._layer_dd, "layer")
        self._watch(self._channels_tx, "channels")
        self._watch(self._method_tb, "method")
        self._watch(self._steps_it, "steps")
        self._watch(self._size_it, "size")
        self._watch(self._select_dd, "selected")
        self._run_bt.on_click(self._on_run)

        self.children = [
            self._banner,
            widgets.HBox([self._layer_dd, self._channels_tx, self._range_lb]),
            widgets.HBox([self._method_tb]),
            widgets.HBox([self._steps_it, self._size_it, self._run_bt, self._progress]),
            self._status,
            self._error,
            self._grid,
            widgets.VBox([self._select_dd, self._big]),
        ]
        self.layer = first.name
        for name, value in kwargs.items():
            if name not in ("channels", "method", "steps", "size", "seed"):
                raise TypeError(f"FeatureVisualizer got an unexpected argument {name!r}")
            setattr(self, name, value)

    # ------------------------------------------------------------------ plumbing
    def __repr__(self) -> str:
        return (
            f"FeatureVisualizer({getattr(self._net, 'name', '?')}, layer={self.layer!r}, "
            f"channels={self.channels!r}, method={self.method!r}, steps={self.steps}, size={self.size})"
        )

    @property
    def images(self) -> np.ndarray | None:
        """The last run's pictures, (N, H, W, 3) float32 in [0, 1] (None before any run)."""
        return None if self._images is None else self._images.copy()

    @property
    def computed_channels(self) -> list[int]:
        """The channels of the last run, in the grid's order."""
        return list(self._computed)

    @property
    def pngs(self) -> dict[str, bytes]:
        """PNG bytes now shown: ``grid`` and ``selected`` (empty before a run)."""
        return {"grid": bytes(self._grid.value), "selected": bytes(self._big.value)}

    def _watch(self, control: widgets.ValueWidget, name: str) -> None:
        """Person → state; a bad value shows a message and the control snaps back."""

        def changed(change: Any) -> None:
            if self._quiet or change.new is None or getattr(self, name) == change.new:
                return
            try:
                setattr(self, name, change.new)
                self._error.clear()
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                self._error.show(exc, name)
                self._set_control(control, getattr(self, name))

        control.observe(changed, "value")

    def _set_control(self, control: widgets.ValueWidget, value: Any) -> None:
        if control.value != value:
            self._quiet += 1
            try:
                control.value = value
            finally:
                self._quiet -= 1

    def _check_layer(self, name: Any) -> LayerInfo:
        info = _base.check_layer_name(self._net, name, "FeatureVisualizer")
        if info.name not in self._infos:
            raise traitlets.TraitError(
                f"FeatureVisualizer.layer: {info.name!r} is the network's input; pick a layer"
            )
        return self._infos[info.name]

    # ------------------------------------------------------------------ validation
    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return self._check_layer(proposal["value"]).name

    @validate("channels")
    def _valid_channels(self, proposal: Any) -> str:
        value = proposal["value"]
        count = self._infos[self.layer].channels if self.layer in self._infos else None
        try:
            parse_channels(value, count)
        except ValueError as exc:
            raise traitlets.TraitError(f"FeatureVisualizer.channels: {exc}") from None
        return value

    @validate("steps")
    def _valid_steps(self, proposal: Any) -> int:
        if proposal["value"] < 1:
            raise traitlets.TraitError(f"FeatureVisualizer.steps must be at least 1, got {proposal['value']}")
        return proposal["value"]

    @validate("size")
    def _valid_size(self, proposal: Any) -> int:
        if not 16 <= proposal["value"] <= 1024:
            raise traitlets.TraitError(
                f"FeatureVisualizer.size must be 16..1024 pixels, got {proposal['value']}"
            )
        return proposal["value"]

    @validate("selected")
    def _valid_selected(self, proposal: Any) -> int:
        value = proposal["value"]
        if value != -1 and value not in self._computed:
            shown = ", ".join(map(str, self._computed)) or "none yet: press Run"
            raise traitlets.TraitError(
                f"FeatureVisualizer.selected = {value} is not a computed channel ({shown})"
            )
        return value

    # ------------------------------------------------------------------ observers
    @observe("layer")
    def _update_layer(self, change: Any) -> None:
        self._set_control(self._layer_dd, change.new)
        info = self._infos[change.new]
        self._range_lb.value = (
            f'<span style="color:#555">of 0..{info.channels - 1} · stage {info.default_stage}</span>'
        )
        try:
            parse_channels(self.channels, info.channels)
        except ValueError as exc:
            self._error.show(f"{exc}; change the channels before pressing Run", "channels")

    @observe("channels")
    def _update_channels(self, change: Any) -> None:
        self._set_control(self._channels_tx, change.new)

    @observe("method")
    def _update_method(self, change: Any) -> None:
        self._set_control(self._method_tb, change.new)
        if change.old in DEFAULT_STEPS and self.steps == DEFAULT_STEPS[change.old]:
            self.steps = DEFAULT_STEPS[change.new]

    @observe("steps")
    def _update_steps(self, change: Any) -> None:
        self._set_control(self._steps_it, change.new)

    @observe("size")
    def _update_size(self, change: Any) -> None:
        self._set_control(self._size_it, change.new)

    @observe("selected")
    def _update_selected(self, change: Any) -> None:
        self._set_control(self._select_dd, change.new if change.new != -1 else None)
        self._show_selected()

    # ------------------------------------------------------------------ running
    def _on_run(self, _button: Any = None) -> None:
        self.run()

    def _tick(self, done: int, total: int) -> None:
        self._progress.value = done

    def run(self) -> bool:
        """Optimise the pictures for the current state and show them; True if it worked.

        Runs synchronously (the button calls it); the progress bar moves after every step.
        Any error shows in the widget's error line instead of escaping.
        """
        if self._busy:
            return False
        self._busy = True
        self._run_bt.disabled = True
        self._error.clear()
        t0 = time.perf_counter()
        try:
            info = self._infos[self.layer]
            chans = parse_channels(self.channels, info.channels)
            self._progress.max = self.steps
            self._progress.value = 0
            self._progress.bar_style = "info"
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RuntimeWarning)
                images = visualize_channels(
                    self._net, self.layer, chans, method=self.method, steps=self.steps,
                    size=self.size, seed=self.seed, progress=False, callback=self._tick,
                )
            self._images = images
            self._computed = chans
            self._grid.value = self._grid_png(images)
            self._set_options(chans)
            if self.selected not in chans:
                self.selected = chans[0]
            else:
                self._show_selected()
            notes = [str(w.message) for w in caught if "interrupted" in str(w.message)]
            self._progress.bar_style = "warning" if notes else "success"
            seconds = time.perf_counter() - t0
            text = (
                f"<b>{html.escape(self.layer)}</b>: {len(chans)} "
                f"{'channel' if len(chans) == 1 else 'channels'}, {self.method}, "
                f"{self.steps} steps at {self.size}×{self.size} px in {seconds:.1f} s"
            )
            if notes:
                text += f' — <span style="color:#a06000">{html.escape(notes[0])}</span>'
            self._status.value = text
            return True
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            self._progress.bar_style = "danger"
            self._error.show(exc, "run")
            return False
        finally:
            self._busy = False
            self._run_bt.disabled = False

    def _set_options(self, chans: list[int]) -> None:
        self._quiet += 1
        try:
            with self._select_dd.hold_sync():
                self._select_dd.options = [(f"channel {c}", c) for c in dict.fromkeys(chans)]
                self._select_dd.value = self.selected if self.selected in chans else chans[0]
        finally:
            self._quiet -= 1

    @staticmethod
    def _grid_png(images: np.ndarray) -> bytes:
        tiles = pixels.imtile(images, padding=2, pad_value=1.0)
        rgb = pixels.to_uint8(tiles)
        return pixels.to_png(_base.enlarge(rgb, _GRID_SIDE))

    def _show_selected(self) -> None:
        if self._images is None or self.selected not in self._computed:
            self._big.value = b""
            return
        picture = self._images[self._computed.index(self.selected)]
        self._big.value = pixels.to_png(_base.enlarge(pixels.to_uint8(picture), _BIG_SIDE))
