"""A FeatureVisualizer run: the optimisation in a background thread, so the kernel stays free.

The thread calls :func:`actwidgets.visualize_channels` with a ``stop`` event (the Stop
button sets it: the run ends after the current step and keeps the pictures reached),
``callback(done, total)`` (the progress bar) and ``preview=(every, show)`` (the pictures so
far). Nothing in the thread touches the widget: each report is handed to the widget's thread,
through ``loop.call_soon_threadsafe`` when the run was started from a running asyncio event
loop (the kernel's), so every widget change happens where the kernel handles the browser's
messages; without a loop (a script, a test) the report is made directly. Progress reports
come at most every 0.1 s and previews every 0.4 s, however fast the steps are.

The thread holds the network (:func:`._netlock.network_lock`) for the run and lets other
widgets' forward passes in between two steps. When Python exits during a run, the run is
stopped and its thread joined first (an ``atexit`` hook registered by the first run), so
the process ends normally instead of aborting inside torch.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ..featurevis import visualize_channels
from ..model.selection import Stage
from ._netlock import network_lock
from ._state import running_loop

__all__ = ["Job", "Pictures", "Run"]

_PROGRESS_EVERY_S = 0.1
_PREVIEW_EVERY_S = 0.4
#: The clock the report throttles read (tests put a fake one here).
clock = time.perf_counter
#: Seconds the exit hook waits for a stopped run's current step.
_EXIT_JOIN_S = 60.0
_LIVE: weakref.WeakSet[Run] = weakref.WeakSet()
_EXIT_HOOK: list[bool] = []


def stop_all_runs() -> None:
    """Stop every background run and wait for its thread (the ``atexit`` hook)."""
    runs = [r for r in list(_LIVE) if r.thread is not None and r.thread.is_alive()]
    for run in runs:
        run.stop()
    for run in runs:
        run.thread.join(_EXIT_JOIN_S)


def _watch(run: Run) -> None:
    with _REGISTRY:
        _LIVE.add(run)
        if not _EXIT_HOOK:  # registered on the first run, not at import
            atexit.register(stop_all_runs)
            _EXIT_HOOK.append(True)


_REGISTRY = threading.Lock()


class Job(NamedTuple):
    """What one run optimises (a copy of the widget's state when Run was pressed)."""

    layer: str
    channels: list[int]
    method: str
    steps: int
    size: int
    seed: int
    stage: Stage | None = None  # None: the layer's default, as visualize_channels reads it


class Pictures(NamedTuple):
    """Pictures of a run: (N, H, W, 3) float32 in [0, 1], one per channel of ``job``."""

    images: np.ndarray
    job: Job
    done: int  # steps done when they were taken
    seconds: float
    final: bool  # the run's result (False: a preview)


class Run:
    """One run of ``job`` on ``net``. ``on_progress(done, total)``, ``on_pictures(pictures)``
    and ``on_end(pictures | None, error | None)`` are called in the widget's thread."""

    def __init__(self, net: Any, job: Job, *, on_progress: Callable[[int, int], None],
                 on_pictures: Callable[[Pictures], None],
                 on_end: Callable[[Pictures | None, BaseException | None], None]) -> None:
        self.net, self.job = net, job
        self.stop_event = threading.Event()
        self.ended = threading.Event()  # set once on_end has run
        self.done = 0
        self._on_progress, self._on_pictures, self._on_end = on_progress, on_pictures, on_end
        self._loop: Any = None
        self._t0 = 0.0
        self._last_progress = self._last_preview = -1.0
        self.thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def start(self) -> None:
        """Run in a background thread; reports go to the loop running here (if any)."""
        self._loop = running_loop()
        _watch(self)
        self.thread = threading.Thread(target=self._body, name="actwidgets-featurevis", daemon=True)
        self.thread.start()

    def run_here(self) -> None:
        """Run in the calling thread (it blocks until the end); reports are made directly."""
        self._loop = None
        self._body()

    def stop(self) -> None:
        self.stop_event.set()

    # ------------------------------------------------------------ in the run's thread
    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)
        else:
            fn(*args)

    def _step(self, done: int, total: int) -> None:
        self.done = done
        network_lock(self.net).let_others_in()
        now = clock()
        if done == total or now - self._last_progress >= _PROGRESS_EVERY_S:
            self._last_progress = now
            self._post(self._on_progress, done, total)

    def _preview(self, images: np.ndarray, done: int, total: int) -> None:
        now = clock()
        if now - self._last_preview >= _PREVIEW_EVERY_S:
            self._last_preview = now
            self._post(self._on_pictures, Pictures(images, self.job, done, now - self._t0, False))

    def _body(self) -> None:
        job = self.job
        self._t0 = clock()
        pictures, error = None, None
        try:
            with network_lock(self.net).hold(f"a FeatureVisualizer run on {job.layer}", timeout=None):
                images = visualize_channels(
                    self.net, job.layer, job.channels, stage=job.stage, method=job.method, steps=job.steps,
                    size=job.size, seed=job.seed, progress=False, callback=self._step,
                    stop=self.stop_event, preview=(max(1, min(8, job.steps // 16)), self._preview),
                )
            pictures = Pictures(images, job, self.done, clock() - self._t0, True)
        except Exception as exc:  # noqa: BLE001 - reported in the widget
            error = exc
        self._post(self._end, pictures, error)

    def _end(self, pictures: Pictures | None, error: BaseException | None) -> None:
        try:
            self._on_end(pictures, error)
        finally:
            self.ended.set()
