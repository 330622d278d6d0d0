"""The one state machine every widget of actwidgets runs on: :class:`StateMachine` (the
widgets' base, :class:`~._page.PageWidget`, is one drawn by an ES module).

A widget's state is a few traitlets (``layer``, ``channel``, ...), each with ``help=`` and a
``@validate`` method that raises a :class:`traitlets.TraitError` saying what is wrong. The
traits are synced with the widget's page; what the page shows is computed from the state by
the widget's ``_compute`` (pure: state → result) and ``_apply`` (result → the synced data).

How a change flows:

1. **Set.** Code sets a trait (a TraitError reaches the caller), or a person changes it in
   the page, which sends it (a TraitError shows in the widget's error line, once, and the
   page snaps back: :meth:`~._page.PageWidget.set_state`).
2. **Follow.** One observer sees every state trait. Inside a batch, it runs the widget's
   ``_follow_<name>(change)`` hook (a new layer clamps the channel) and marks the state
   dirty.
3. **Render once.** When the outermost batch closes, one render is asked for.
   ``with widget.batch():`` (or ``with widget.hold_sync():``, which also holds the messages
   to the browser) makes any number of changes give one render.
4. **Newest wins.** Each render request takes a new generation from a :class:`RenderGuard`;
   a result is written only if its generation is still the newest, so a slow old render can
   never overwrite a newer picture.
5. **Rollback.** A render (or a hook) that fails shows its message in the error line and puts
   every state trait back to the values of the picture on screen (the page follows), so
   the widget keeps working; ``last_exception`` keeps the exception for a closer look.

Bursts from the browser. A slider dragged fast may send one message per position. A change
that comes from the page while an asyncio event loop runs in this thread (the kernel's)
is not rendered at once: its request is scheduled with ``loop.call_soon`` and carries its
generation; when it runs, it renders only if no newer request came meanwhile, so of the
messages handled before the loop got back to it only the newest is drawn, and a change made
from code (rendered at once, a newer generation) drops every pending one. This uses only the
event loop and ipywidgets' documented ``set_state``; which message came from where is never
read from ipywidgets' internals. Without a running loop (a script, a test) and for changes
made from code, the render is immediate, so ``widget.png`` is current after each assignment.

A re-entrant lock serialises changes and renders, so a background thread (the
FeatureVisualizer's run) may hand results over safely where no event loop runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import traitlets

from ..model.network import check_network
from ._parts import describe_error

__all__ = ["StateMachine", "RenderGuard", "running_loop"]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio event loop running in this thread (the kernel's), or None."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class RenderGuard:
    """A render-generation counter: only the newest request may write the picture.

    >>> guard = RenderGuard()
    >>> old, new = guard.begin(), guard.begin()
    >>> guard.is_current(old), guard.is_current(new)
    (False, True)
    """

    def __init__(self) -> None:
        self.generation = 0
        self.drawn = 0  # renders written
        self.dropped = 0  # requests thrown away because a newer one came

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
        self.drawn += 1
        return True


class TextLine:
    """An error line that only holds its text (a widget without a page: tests, scripts)."""

    def __init__(self) -> None:
        self.message = ""

    def show(self, error: BaseException | str, context: str = "") -> None:
        text = error if isinstance(error, str) else describe_error(error)
        self.message = f"{context}: {text}" if context else text

    def clear(self) -> None:
        self.message = ""


class StateMachine(traitlets.HasTraits):
    """The state machine itself (see the module documentation), for any widget class: a
    subclass of it and of an ipywidgets (or anywidget) class lists its state traits in
    ``_state_names``, sets the initial state, then calls :meth:`_start`. It implements
    ``_compute()`` and ``_apply(result)``, and may define ``_follow_<name>(change)`` hooks,
    ``_notice()`` (a standing message shown after a good render, '' for none) and
    ``_error_line()`` (where messages show)."""

    _state_names: ClassVar[tuple[str, ...]] = ()
    _repr_names: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, net: Any, **kwargs: Any) -> None:
        self._net = check_network(net, type(self).__name__)
        self._lock = threading.RLock()
        self._ready = False
        self._batch_depth = 0
        self._dirty = False
        self._from_control = False
        self._restoring = False
        self._shown: dict[str, Any] | None = None
        self._guard = RenderGuard()
        #: The exception behind the message now shown, for a closer look (its traceback).
        self.last_exception: BaseException | None = None
        super().__init__(**kwargs)
        self._error = self._error_line()
        self.observe(self._changed, names=list(self._state_names))

    def _error_line(self) -> Any:
        """Where messages show: an object with ``show(error, context)``, ``clear()`` and
        ``message`` (a page widget's is its synced ``_message``)."""
        return TextLine()

    # ------------------------------------------------------------ public
    @property
    def net(self) -> Any:
        """The :class:`actwidgets.Network` being looked at."""
        return self._net

    @property
    def error(self) -> str:
        """The error message now shown in the widget ('' when there is none)."""
        return self._error.message

    @property
    def render_guard(self) -> RenderGuard:
        """The render-generation counter (how many renders were drawn and dropped)."""
        return self._guard

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Changes made inside give one render at the end (if any asked for one)."""
        with self._lock:
            self._batch_depth += 1
            try:
                yield
            finally:  # what changed before an error inside is drawn too
                self._batch_depth -= 1
                if self._batch_depth == 0 and self._dirty:
                    self._dirty = False
                    self._request_render()

    @contextlib.contextmanager
    def hold_sync(self) -> Iterator[None]:
        """ipywidgets' ``hold_sync``, which also makes the changes inside one batch."""
        with super().hold_sync(), self.batch():  # type: ignore[misc]
            yield

    def _repr_state(self) -> str:
        names = self._repr_names or self._state_names
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in names)

    def __repr__(self) -> str:
        text = f"{type(self).__name__}({getattr(self._net, 'name', '?')}, {self._repr_state()})"
        return text if len(text) < 190 else text[:186] + "…)"

    def _show(self, name: str) -> None:
        """Write trait ``name``'s value into its control (none here)."""


    # ------------------------------------------------------------ changes
    def _changed(self, change: Any) -> None:
        with self.batch():
            self._show(change.name)
            hook = getattr(self, f"_follow_{change.name}", None)
            try:
                if hook is not None:
                    hook(change)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                if not self._restoring:
                    self._fail(exc)
                return
            self._request_render()

    def _start(self) -> bool:
        """The state is complete: draw it for the first time; say whether that worked."""
        self._ready = True
        return self._render()

    def _request_render(self) -> None:
        """Render now, at the end of the batch, or soon for a change from a control."""
        if not self._ready or self._restoring:
            return
        if self._batch_depth:
            self._dirty = True
            return
        loop = running_loop() if self._from_control else None
        token = self._guard.begin()
        if loop is None:
            self._render(token)
        else:
            loop.call_soon(self._render_if_newest, token)

    def _render_if_newest(self, token: int) -> None:
        if self._guard.is_current(token):
            self._render(token)
        else:
            self._guard.dropped += 1  # a newer request came: never draw this one

    def _render(self, token: int | None = None) -> bool:
        """Draw the current state; on failure show why and restore the shown state."""
        with self._lock:
            token = self._guard.begin() if token is None else token
            try:
                result = self._compute()
                return self._guard.commit(token, lambda: self._draw(result))
            except Exception as exc:  # noqa: BLE001 - every failure becomes a message
                self._fail(exc)
                return False

    def _draw(self, result: Any) -> None:
        self._apply(result)
        self._shown = {n: getattr(self, n) for n in self._state_names}
        self.last_exception = None
        notice = self._notice()
        if notice:
            self._error.show(notice)
        else:
            self._error.clear()

    # ------------------------------------------------------------ errors
    def _report(self, exc: BaseException | str, context: str = "") -> None:
        """Show ``exc`` in the error line (the widget goes on working)."""
        if isinstance(exc, BaseException):
            self.last_exception = exc
        self._error.show(exc, context)

    def _fail(self, exc: BaseException, context: str = "") -> None:
        """Show ``exc`` and go back to the state of the picture on screen."""
        self._report(exc, context)
        if self._shown is None or self._restoring:
            return
        self._restoring = True
        try:
            with self.batch():
                for name, value in self._shown.items():
                    if getattr(self, name) != value:
                        setattr(self, name, value)
                self._dirty = False
        finally:
            self._restoring = False

    def _guarded(self, context: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn`` for a button: any error shows in the widget, none escapes."""
        try:
            with self.batch():
                return fn(*args)
        except Exception as exc:  # noqa: BLE001
            self._fail(exc, context)
            return None

    # ------------------------------------------------------------ to implement
    def _compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _apply(self, result: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _notice(self) -> str:
        """A standing message to show after a good render ('' for none)."""
        return ""
