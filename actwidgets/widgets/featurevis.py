"""``FeatureVisualizer``: what the channels of a layer look for, by activation maximisation.

Pick a layer and some channels, a method (``regularized``: lucid-style, recognisable
pictures; ``basic``: the Keras VGG16 walkthrough's plain gradient ascent), the number of steps
and the picture size, then press **Run**: the optimisation runs in a background thread (the
notebook stays free), a progress bar follows it, the pictures appear as a grid every few steps,
and **Stop** ends it after the current step, keeping the pictures reached. A dropdown shows
any one of them larger.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> fv = aw.FeatureVisualizer(net, "fire4-relu_expand3x3")
>>> fv.channels = "0-3"; fv.steps = 2; fv.size = 32
>>> fv.run()                     # in this thread; the Run button calls fv.start()
True
>>> fv.images.shape
(4, 32, 32, 3)
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from traitlets import Bool, Bytes, Dict, Enum, Int, Tuple, Unicode, validate

from .. import frontend, pixels
from ..featurevis import METHODS
from ..model.layers import LayerInfo
from . import _parts
from ._channels import MAX_CHANNELS, cpu_work_problem, parse_channels
from ._fvrun import Job, Pictures, Run
from ._page import PageWidget
from ._state import running_loop

__all__ = ["MAX_CHANNELS", "MAX_STEPS", "SIZES", "FeatureVisualizer", "parse_channels"]

#: The widget's default steps per method (quick enough to wait for on a CPU).
DEFAULT_STEPS = {"regularized": 128, "basic": 20}
#: Steps per run: lucid's recipes use 512 to 2048; more only costs time.
MAX_STEPS = 2048
#: Picture sides, in pixels: below 16 a network sees nothing, above 512 a step is slow.
SIZES = (16, 512)
#: The grid and the enlarged picture are drawn at least this large.
_GRID_SIDE = 300
_BIG_SIDE = 320
#: What the method buttons say when pointed at.
_METHOD_TIPS = {"regularized": "lucid-style: decorrelated Fourier image, random jitter/scale/rotation, Adam",
                "basic": "the Keras walkthrough: plain gradient ascent on the pixels from grey noise"}


def _default_layer(layers: list[LayerInfo]) -> LayerInfo:
    """A middle ReLU layer (or the middle layer): a good first look."""
    relus = [info for info in layers if info.kind == "relu"] or layers
    return relus[min(len(relus) - 1, (len(relus) * 2) // 5)]


class FeatureVisualizer(PageWidget):
    """Activation maximisation for the channels of one layer of ``net``, on a button press.

    State (traitlets, settable from code and synced with the page's controls): ``layer``,
    ``channels`` (a spec such as ``"0-7"`` or ``"1,5,9"``), ``method``, ``steps``, ``size``,
    ``seed`` and ``selected`` (the channel shown larger). :meth:`start` (what **Run** calls)
    optimises in a background thread and returns at once; :meth:`stop` (**Stop**) ends the run
    after the current step, keeping its pictures; ``running`` and ``progress`` follow it;
    :meth:`wait` waits for its end (in scripts and tests). :meth:`run` optimises in the calling
    thread. Changes made during a run apply to the next one. Errors appear as a message inside
    the widget, which keeps working. The page (an ES module, ``featurevis.js``) gets the
    pictures as raw RGB bytes as they come and draws the grid and the enlarged one itself.
    """

    _esm = frontend.module_text("draw.js", "controls.js", "featurevis.js")
    _css = frontend.stylesheet("featurevis.css")

    layer = _parts.LayerTrait(
        help="Name of the layer whose channels are visualised (net.layers.names)",
    ).tag(sync=True)
    channels = Unicode(
        "0-7", help='Channels to visualise: "0-7", "1,5,9" or "0-3,10" (ends included)',
    ).tag(sync=True)
    method = Enum(
        METHODS, "regularized",
        help='"regularized": lucid-style (Fourier image, random transforms, Adam); '
        '"basic": the Keras walkthrough\'s plain gradient ascent on the pixels',
    ).tag(sync=True)
    steps = Int(
        DEFAULT_STEPS["regularized"],
        help=f"Optimisation steps, 1..{MAX_STEPS} (each one forward and backward pass)",
    ).tag(sync=True)
    size = Int(128, help=f"Side of the square pictures, {SIZES[0]}..{SIZES[1]} pixels").tag(sync=True)
    seed = Int(0, help="Random seed: the same seed gives the same pictures").tag(sync=True)
    selected = Int(
        -1, help="The channel shown larger (one of the computed channels; -1: none yet)",
    ).tag(sync=True)
    running = Bool(False, read_only=True, help="True while a run optimises in the background").tag(sync=True)
    progress = Tuple(Int(), Int(), default_value=(0, 0), read_only=True,
                     help="(steps done, steps in all) of the current or last run").tag(sync=True)
    shown_step = Int(-1, read_only=True, help="Steps done when the pictures now shown were "
                     "taken (a preview while a run goes on); -1 before any run").tag(sync=True)
    _meta = Dict(help="The network, its layers, the methods, the bounds of steps and size").tag(sync=True)
    _pictures = Bytes(
        help="The pictures shown: (N, size, size, 3) uint8 RGB, one after another",
    ).tag(sync=True)
    _shape = Dict(
        help="What _pictures holds: channels, size, steps done and in all, layer, method",
    ).tag(sync=True)
    _status = Unicode(help="The status line: what the last run did, or what this one is doing").tag(sync=True)
    _problem = Unicode(help="Why Run cannot run now ('' when it can)").tag(sync=True)
    _stopping = Bool(False, help="True once Stop was pressed, until the run ends").tag(sync=True)
    _outcome = Unicode(
        help='How the last run ended: "success", "warning" (stopped), "danger" (failed)',
    ).tag(sync=True)

    _state_names = ("layer", "channels", "method", "steps", "size", "seed", "selected")
    _repr_names = ("layer", "channels", "method", "steps", "size")

    def __init__(self, net: Any, layer: str | None = None, **kwargs: Any) -> None:
        super().__init__(net)
        self._layers = [info for info in self._net.layers if info.kind != "input"]
        if not self._layers:
            raise ValueError(f"{self._net.name} has no layers to visualise")
        self._infos = {info.name: info for info in self._layers}
        self._pictures_now: Pictures | None = None  # shown: a preview or a run's result
        self._kept: Pictures | None = None  # the last run's result (back after a failed run)
        self._run: Run | None = None
        self._ok = False
        self._png_cache: dict[str, tuple[Any, int, bytes]] = {}
        first = _default_layer(self._layers) if layer is None else self._check_layer(layer)
        self._meta = {
            "net": {"name": self._net.name, "weights": self._net.weights,
                    "pretrained": bool(self._net.pretrained), "input": list(self._net.input_size)},
            "layers": [{"name": info.name, "label": info.label, "channels": info.channels,
                        "stage": info.default_stage} for info in self._layers],
            "methods": [[m, _METHOD_TIPS.get(m, m)] for m in METHODS],
            "max_steps": MAX_STEPS, "sizes": list(SIZES),
        }
        self.layer = first.name
        for name, value in kwargs.items():
            if name not in ("channels", "method", "steps", "size", "seed"):
                raise TypeError(f"FeatureVisualizer got an unexpected argument {name!r}")
            setattr(self, name, value)
        self._start()

    # ------------------------------------------------------------------ public state
    @property
    def images(self) -> np.ndarray | None:
        """The pictures now shown, (N, H, W, 3) float32 in [0, 1] (None before any run)."""
        return None if self._pictures_now is None else self._pictures_now.images.copy()

    @property
    def computed_channels(self) -> list[int]:
        """The channels of the pictures now shown, in the grid's order."""
        return [] if self._pictures_now is None else list(self._pictures_now.job.channels)

    @property
    def pngs(self) -> dict[str, bytes]:
        """PNG bytes of what is shown, drawn in Python when asked for: ``grid`` and
        ``selected`` (b"" before a run)."""
        return {"grid": self._png("grid"), "selected": self._png("selected")}

    @property
    def png(self) -> bytes:
        """The grid's PNG bytes (b"" before a run): what a static page shows."""
        return self._png("grid")

    @property
    def status(self) -> str:
        """The status line (what the last run did, or what the current one is doing)."""
        return self._status

    def _png(self, which: str) -> bytes:
        pictures, selected = self._pictures_now, self.selected
        hit = self._png_cache.get(which)
        if hit is not None and hit[0] is pictures and hit[1] == selected:
            return hit[2]
        data = b""
        if pictures is not None and which == "grid":
            tiles = pixels.imtile(pictures.images, padding=2, pad_value=1.0)
            data = _parts.to_png(pixels.to_uint8(tiles), _GRID_SIDE)
        elif pictures is not None and selected in pictures.job.channels:
            picture = pictures.images[pictures.job.channels.index(selected)]
            data = _parts.to_png(pixels.to_uint8(picture), _BIG_SIDE)
        self._png_cache[which] = (pictures, selected, data)
        return data

    # ------------------------------------------------------------------ validation
    def _check_layer(self, name: Any) -> LayerInfo:
        info = _parts.check_layer_name(self._net, name, "FeatureVisualizer")
        if info.name not in self._infos:
            raise traitlets.TraitError(
                f"FeatureVisualizer.layer: {info.name!r} is the network's input; pick a layer")
        return self._infos[info.name]

    @validate("layer")
    def _valid_layer(self, proposal: Any) -> str:
        return self._check_layer(proposal["value"]).name

    @validate("channels")
    def _valid_channels(self, proposal: Any) -> str:
        info = self._infos.get(self.layer)
        try:
            parse_channels(proposal["value"], info.channels if info else None)
        except ValueError as exc:
            raise traitlets.TraitError(f"FeatureVisualizer.channels: {exc}") from None
        return proposal["value"]

    @validate("steps")
    def _valid_steps(self, proposal: Any) -> int:
        if not 1 <= proposal["value"] <= MAX_STEPS:
            raise traitlets.TraitError(
                f"FeatureVisualizer.steps must be 1..{MAX_STEPS}, got {proposal['value']}")
        return proposal["value"]

    @validate("size")
    def _valid_size(self, proposal: Any) -> int:
        if not SIZES[0] <= proposal["value"] <= SIZES[1]:
            raise traitlets.TraitError(
                f"FeatureVisualizer.size must be {SIZES[0]}..{SIZES[1]} pixels, got {proposal['value']}")
        return proposal["value"]

    @validate("selected")
    def _valid_selected(self, proposal: Any) -> int:
        value = proposal["value"]
        if value != -1 and value not in self.computed_channels:
            shown = ", ".join(map(str, self.computed_channels)) or "none yet: press Run"
            raise traitlets.TraitError(
                f"FeatureVisualizer.selected = {value} is not a computed channel ({shown})")
        return value

    def _channels_problem(self) -> str:
        """Why the channels cannot run on the layer at this size ('' when they can)."""
        info = self._infos[self.layer]
        try:
            chans = parse_channels(self.channels, info.channels)
        except ValueError as exc:
            return (f"FeatureVisualizer.channels = {self.channels!r} do not fit {info.name}: {exc}. "
                    "Change the channels to run.")
        return cpu_work_problem(len(chans), self.size) if self._net.device.type == "cpu" else ""

    # ------------------------------------------------------------------ following changes
    def _follow_method(self, change: Any) -> None:
        if not self._restoring and self.steps == DEFAULT_STEPS.get(change.old):
            self.steps = DEFAULT_STEPS[change.new]

    def _compute(self) -> str:
        return self._channels_problem()

    def _apply(self, problem: str) -> None:
        self._problem = problem

    def _notice(self) -> str:
        return self._channels_problem()

    def _on_run(self, content: Any, buffers: list[Any]) -> None:
        """The page's **Run** button."""
        self.start()

    def _on_stop(self, content: Any, buffers: list[Any]) -> None:
        """The page's **Stop** button."""
        self.stop()

    # ------------------------------------------------------------------ running
    def start(self) -> bool:
        """Start a run in a background thread (what **Run** does); False, with the reason in
        the widget, when it cannot start (a run is going, the channels do not fit)."""
        with self._lock:
            run = self._new_run()
            if run is not None:
                run.start()
            return run is not None

    def run(self) -> bool:
        """Optimise in the calling thread (blocking) and show the pictures; True if it worked."""
        with self._lock:
            run = self._new_run()
            if run is None:
                return False
            run.run_here()
            return self._ok

    def stop(self) -> bool:
        """End the current run after its current step (what **Stop** does); the pictures
        reached so far are kept. False when no run is going."""
        run = self._run
        if run is None or run.ended.is_set() or run.stopping:
            return False
        run.stop()  # at once, without the lock: a run in another thread (run()) holds it
        with self._lock:
            if run is self._run and not run.ended.is_set():
                with widgets.Widget.hold_sync(self):
                    self._stopping = True
                    self._status += " — stopping after the current step…"
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the current run has ended and its pictures are shown; False on timeout.

        For scripts and tests: in a notebook the kernel's event loop delivers the run's end,
        so waiting there would block it (observe ``running`` instead)."""
        run = self._run
        if run is None:
            return True
        if run.thread is not None and running_loop() is not None and not run.ended.is_set():
            raise RuntimeError(
                "FeatureVisualizer.wait() would block the kernel that delivers the run's end; "
                "observe the widget's `running` trait instead")
        return run.ended.wait(timeout)

    def _new_run(self) -> Run | None:
        if self._run is not None and not self._run.ended.is_set():
            done, total = self.progress
            self._report(f"Run refused: a run is going ({self._run.job.layer}, {done} of {total} "
                         "steps); press Stop, or wait for it to end")
            return None
        problem = self._channels_problem()
        if problem:
            self._report(problem)
            return None
        job = Job(self.layer, parse_channels(self.channels), self.method, self.steps, self.size, self.seed)
        self._run = run = Run(self._net, job, on_progress=self._on_progress,
                              on_pictures=self._on_pictures, on_end=self._on_end)
        with widgets.Widget.hold_sync(self):  # one message
            self.set_trait("running", True)
            self.set_trait("progress", (0, job.steps))
            self._stopping, self._outcome = False, ""
            self._error.clear()
            self._status = (f"running {job.layer} × {len(job.channels)}, {job.method}, {job.steps} steps "
                            f"at {job.size}×{job.size} px (changes apply to the next run)")
        return run

    def _on_progress(self, done: int, total: int) -> None:
        with self._lock:  # the run's thread where no event loop runs
            self.set_trait("progress", (done, total))

    def _on_pictures(self, pictures: Pictures) -> None:
        with self._lock:
            if self._run is None or pictures.job is not self._run.job:
                return  # a late preview of an earlier run
            self._show_pictures(pictures)

    def _show_pictures(self, pictures: Pictures | None) -> None:
        """Show a run's pictures (a preview or its result; None: nothing) without a render,
        which would clear a message now shown: their RGB bytes go to the page in one message."""
        with self.batch(), widgets.Widget.hold_sync(self):
            self._pictures_now = pictures
            chans = self.computed_channels
            if self.selected not in chans:
                self.selected = chans[0] if chans else -1
            if pictures is None:
                self._pictures, self._shape = b"", {}
            else:
                job = pictures.job
                self._pictures = pixels.to_uint8(pictures.images).tobytes()
                self._shape = {"channels": list(job.channels), "size": int(pictures.images.shape[1]),
                               "done": pictures.done, "steps": job.steps, "layer": job.layer,
                               "method": job.method, "final": pictures.final}
            # last: an observer of shown_step (in the run's thread) finds the pictures in place
            self.set_trait("shown_step", -1 if pictures is None else pictures.done)

    def _on_end(self, pictures: Pictures | None, error: BaseException | None) -> None:
        with self._lock:
            if self._error.message.startswith("Run refused"):  # no run is going any more
                self._error.clear()
            with self.batch(), widgets.Widget.hold_sync(self):
                self.set_trait("running", False)
                self._ok = error is None
                self._show_pictures(pictures if error is None else self._kept)
                if pictures is not None:
                    self._kept = pictures
                    self._on_progress(pictures.done, pictures.job.steps)  # the last, not throttled
                self._stopping = False
                self._outcome = ("danger" if error is not None else
                                 "warning" if pictures.done < pictures.job.steps else "success")
                self._status = self._summary(pictures)
            if error is not None:  # after the render, which would clear it
                self._report(error, "run")

    def _summary(self, pictures: Pictures | None) -> str:
        if pictures is None:
            return f"the run on {self._run.job.layer} failed"
        job, n = pictures.job, len(pictures.job.channels)
        what = (f"{job.steps} steps in {pictures.seconds:.1f} s" if pictures.done == job.steps else
                f"stopped after {pictures.done} of {job.steps} steps in {pictures.seconds:.1f} s; "
                "the pictures reached are shown")
        return (f"{job.layer}: {n} {'channel' if n == 1 else 'channels'}, "
                f"{job.method}, {job.size}×{job.size} px, {what}")
