"""One forward pass at a time on a network, across the widgets and their threads.

A background run (the FeatureVisualizer's) holds its network for the whole optimisation, and
running the network from two threads at once is not safe: both would put the model in eval
mode and freeze or restore its parameters' ``requires_grad`` around their passes, and a
hook-backend pass would see the other's hooks. So every widget's forward pass holds the
network's :class:`NetworkLock`; the long run lets waiting passes go first between two of its
steps (:meth:`NetworkLock.let_others_in`), so an explorer on the same network waits one step
at most, and gives up with a clear message after ``timeout`` seconds. Meanwhile the weights
cannot change (the run freezes them), so an explorer redraws its last layer from the arrays it
already has without waiting at all.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["NetworkLock", "NetworkBusyError", "network_lock"]

#: Seconds a widget's forward pass waits for a network that a background run is using.
WAIT_SECONDS = 10.0

_LOCKS: weakref.WeakKeyDictionary[Any, NetworkLock] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


class NetworkBusyError(RuntimeError):
    """The network stayed busy (a background run) longer than a widget could wait."""


class NetworkLock:
    """A re-entrant lock whose long holder can let waiting threads go first."""

    def __init__(self, name: str = "the network") -> None:
        self._name = name
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._waiting = 0
        self.holder = ""  # what holds it now, for messages

    @contextlib.contextmanager
    def hold(self, what: str, timeout: float | None = WAIT_SECONDS) -> Iterator[None]:
        """Hold the network for ``what``; NetworkBusyError after ``timeout`` seconds."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me:
                self._waiting += 1
                try:
                    free = self._cond.wait_for(lambda: self._owner is None, timeout)
                finally:
                    self._waiting -= 1
                if not free:
                    raise NetworkBusyError(
                        f"{self._name} is busy: {self.holder} runs in the background. Try again "
                        "when it ends, or press its Stop button."
                    )
                self._owner, self.holder = me, what
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner, self.holder = None, ""
                    self._cond.notify_all()

    def busy(self) -> bool:
        """Whether another thread holds the network now (a background run)."""
        return self._owner not in (None, threading.get_ident())

    def let_others_in(self) -> None:
        """Between two steps of a long hold: let every thread waiting for the network have
        its turn first, then take it back."""
        me = threading.get_ident()
        with self._cond:
            if self._owner != me or not self._waiting:
                return
            depth, holder = self._depth, self.holder
            self._owner, self._depth = None, 0
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._owner is None and not self._waiting)
            self._owner, self._depth, self.holder = me, depth, holder


def network_lock(net: Any) -> NetworkLock:
    """The one :class:`NetworkLock` of ``net`` (made on first use, gone with the network)."""
    with _REGISTRY_LOCK:
        lock = _LOCKS.get(net)
        if lock is None:
            lock = _LOCKS[net] = NetworkLock(str(getattr(net, "name", "the network")))
        return lock
