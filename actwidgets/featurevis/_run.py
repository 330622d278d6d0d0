"""Running an optimisation: the steps, a progress bar, a callback, a stop signal and Ctrl-C.

Both :func:`~.optimize.visualize_channels` and :func:`~.dream.deep_dream` are a function
``step(i)`` called ``total`` times; :func:`run_steps` calls it, and stops early, keeping what
was reached, when ``stop.is_set()`` (a ``threading.Event`` a widget sets from another
thread) or on Ctrl-C (with a warning).

>>> done = run_steps(lambda i: None, 5, what="demo", progress=False)
>>> done
5
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from ..model.network import Network

__all__ = ["run_steps", "ProgressCallback", "Stop", "sized"]

ProgressCallback = Callable[[int, int], None]


class Stop(Protocol):
    """Anything with ``is_set()``, such as a ``threading.Event``."""

    def is_set(self) -> bool: ...


@contextlib.contextmanager
def _progress_bar(total: int, show: bool, desc: str) -> Iterator[Any]:
    """A tqdm.auto bar (or None) that is closed however the body ends."""
    if not show:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, leave=False)
    try:
        yield bar
    finally:
        bar.close()


def run_steps(
    step: Callable[[int], int | None], total: int, *, what: str, progress: bool = True,
    callback: ProgressCallback | None = None, stop: Stop | None = None, desc: str | None = None,
) -> int:
    """Call ``step(i)`` for i = 0, 1, ... < ``total``; the number of steps done.

    ``step`` may return a count of following steps to skip (an octave ended early). Stops
    early when ``stop.is_set()`` or on KeyboardInterrupt (warning: the result so far is kept).
    """
    done = 0
    with _progress_bar(total, progress, desc or what) as bar:
        try:
            while done < total and not (stop is not None and stop.is_set()):
                advanced = 1 + (step(done) or 0)
                done = min(total, done + advanced)
                if bar is not None:
                    bar.update(advanced)
                if callback is not None:
                    callback(done, total)
        except KeyboardInterrupt:
            warnings.warn(
                f"{what} interrupted after {done} of {total} steps; returning the pictures "
                "reached so far", RuntimeWarning, stacklevel=3,
            )
    return done


def sized(step: Callable[[int], int | None], net: Network, size: tuple[int, int],
          layer: str) -> Callable[[int], int | None]:
    """``step``, with a clear error when its first forward pass fails at a picture ``size``
    other than the network's input size (a linear layer needs exactly that size)."""
    if tuple(size) == tuple(net.input_size):
        return step

    def first_checked(i: int) -> int | None:
        if i:
            return step(i)
        try:
            return step(i)
        except RuntimeError as exc:
            h, w = net.input_size
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ValueError(
                f"the network cannot compute {layer!r} from a {size[0]}×{size[1]} picture "
                f"({text}). Use a larger size, or the network's input size {h}×{w} if it needs "
                "exactly that (a linear layer does)."
            ) from exc

    return first_checked
