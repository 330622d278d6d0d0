"""``PageWidget``: the base of every widget drawn by an ES module of :mod:`actwidgets.frontend`
(an anywidget): the state machine of :mod:`._state`, an error line that is a synced trait,
changes from the page checked like a person's (a bad value shows in the page, which snaps
back), custom messages from the page dispatched by event name, and a PNG beside the widget
view for static renderers (nbconvert, a notebook saved without widget state).

A subclass sets ``_esm = frontend.module_text(...)`` and ``_css``, declares its state traits
with ``.tag(sync=True)`` (a mixin's traits too, as ``LayerState``'s are),
implements ``_compute``/``_apply`` as for any :class:`~._state.StateMachine`, ``png`` (the
picture now shown, drawn in Python on demand) and ``_on_<event>(content, buffers)`` for the
page's custom messages.

>>> from traitlets import Int
>>> class Counter(PageWidget):
...     _esm = "export default {render() {}};"
...     n = Int(0, help="a number").tag(sync=True)
...     _state_names = ("n",)
...     def _compute(self): return self.n
...     def _apply(self, result): self.shown = result
>>> import actwidgets as aw
>>> w = Counter(aw.load_model("squeezenet", weights=None)); w._start()
True
>>> w.n = 3; w.shown
3
"""

from __future__ import annotations

import base64
from typing import Any

import anywidget
from traitlets import Unicode

from . import _parts
from ._state import StateMachine

__all__ = ["PageWidget", "MessageLine"]

#: Longest error message the page shows (the rest is cut, with an ellipsis).
MAX_MESSAGE = 1200


class MessageLine:
    """The error line of a widget drawn by its ES module: the message is the synced trait
    ``_message``; the page shows it."""

    def __init__(self, widget: PageWidget) -> None:
        self._widget = widget

    def show(self, error: BaseException | str, context: str = "") -> None:
        message = error if isinstance(error, str) else _parts.describe_error(error)
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE] + " …"
        self._widget._message = f"{context}: {message}" if context else message

    def clear(self) -> None:
        self._widget._message = ""

    @property
    def message(self) -> str:
        return self._widget._message


class PageWidget(StateMachine, anywidget.AnyWidget):
    """A widget whose page is an ES module; see the module documentation."""

    _message = Unicode("", help="The error message shown in the page ('' for none)").tag(sync=True)

    def __init__(self, net: Any, **kwargs: Any) -> None:
        super().__init__(net, **kwargs)
        self.on_msg(self._on_message)

    def _error_line(self) -> MessageLine:
        return MessageLine(self)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """A change from the page (ipywidgets calls this): like a person's, a value that fails
        its check shows in the page's error line and the page snaps back."""
        with self._lock:
            before, self._from_control = self._from_control, True
            try:
                super().set_state(sync_data)
            except Exception as exc:  # noqa: BLE001 - shown in the widget; the page snaps back
                self._report(exc)
                self.send_state([k for k in sync_data if k in self.keys])
            finally:
                self._from_control = before

    def _on_message(self, _widget: Any, content: Any, buffers: list[Any]) -> None:
        """A custom message from the page, ``{"event": name, ...}``: handled by
        ``_on_<name>(content, buffers)``; an error there shows in the page."""
        event = content.get("event") if isinstance(content, dict) else None
        handler = getattr(self, f"_on_{event}", None) if isinstance(event, str) else None
        if handler is None:
            return
        try:
            with self.batch():
                handler(content, buffers)
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._fail(exc)

    @property
    def png(self) -> bytes:  # pragma: no cover - abstract
        """The PNG bytes of the picture now shown (drawn in Python when asked for)."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, and beside it a PNG of the picture now shown (what a notebook
        converted to HTML, or saved without its widget state, shows instead of a blank)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        try:
            png = self.png
        except Exception:  # noqa: BLE001 - the widget view alone is still worth showing
            png = b""
        if png:  # nothing drawn yet (b""): no empty picture
            data = {**data, "image/png": base64.b64encode(png).decode("ascii")}
        return data, metadata
