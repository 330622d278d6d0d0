"""One memory budget for every activation cache in the process: an LRU cache bounded by bytes.

Each :class:`~actwidgets.Network` keeps what it computed in its own :class:`CacheView` of the
one process-wide :class:`ByteLRU` (:func:`shared_cache`), so however many networks and images a
notebook uses, their activations together stay under one budget, :func:`set_cache_budget`
(512 MiB by default, or the environment variable ``ACTWIDGETS_CACHE_MB``).

>>> cache = ByteLRU(max_bytes=1_000)
>>> cache.put("a", b"x" * 600, nbytes=600)
>>> cache.get("a") is not None
True
>>> cache.put("b", b"y" * 600, nbytes=600)   # evicts "a": 1,200 bytes > 1,000
>>> "a" in cache, "b" in cache
(False, True)
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

__all__ = ["ByteLRU", "CacheView", "DEFAULT_CACHE_BYTES", "shared_cache", "set_cache_budget"]

#: Default budget of all activation caches together: 512 MiB (``ACTWIDGETS_CACHE_MB``).
DEFAULT_CACHE_BYTES = 512 * 2**20


def _nbytes(value: Any, nbytes: int | None) -> int:
    size = getattr(value, "nbytes", None) if nbytes is None else nbytes
    if size is None:
        raise TypeError(
            f"cannot tell the size of a {type(value).__name__}: pass nbytes= to ByteLRU.put"
        )
    if int(size) < 0:
        raise ValueError(f"nbytes must be a number of bytes >= 0, got {size!r}")
    return int(size)


def _check_budget(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}")
    return max_bytes


class ByteLRU:
    """A least-recently-used cache whose entries together stay under ``max_bytes``.

    An entry larger than the whole budget is not stored. Thread-safe, and safe from a
    :class:`CacheView`'s finaliser, which the garbage collector may run at any moment,
    also while this thread holds the lock: a gone owner's entries are dropped at once
    when the lock is free, else when the holder lets it go.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = _check_budget(max_bytes)
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._gone: list[object] = []  # owners' tokens whose entries are still to drop
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return (
            f"ByteLRU({len(self._data)} entries, {self._bytes / 2**20:.1f} of "
            f"{self.max_bytes / 2**20:.0f} MiB, {self.hits} hits, {self.misses} misses)"
        )

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._data

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        with self._locked():
            return self._bytes

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the lock, with the entries of owners gone meanwhile dropped first and last."""
        with self._lock:
            self._drop_gone()
            try:
                yield
            finally:
                self._drop_gone()

    def _drop_gone(self) -> None:
        while self._gone:  # dropping values may finalise more owners: they queue here
            token = self._gone.pop()
            for key in [k for k in self._data if _owned_by(k, token)]:
                self._bytes -= self._data.pop(key)[1]

    def _owner_gone(self, token: object) -> None:
        """A :class:`CacheView`'s finaliser: never waits for the lock (its own thread may
        hold it, inside a put the garbage collector interrupted)."""
        self._gone.append(token)
        if self._lock.acquire(blocking=False):
            try:
                self._drop_gone()
            finally:
                self._lock.release()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value for ``key`` (marking it recently used), or ``default``."""
        with self._locked():
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int | None = None) -> None:
        """Store ``value``, evicting the least recently used entries to stay in budget."""
        size = _nbytes(value, nbytes)
        with self._locked():
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return
            self._data[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._data.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        """Drop every entry."""
        with self._locked():
            self._data.clear()
            self._bytes = 0

    def drop(self, keep: Any) -> None:
        """Drop the entries whose key ``keep(key)`` is false."""
        with self._locked():
            for key in [k for k in self._data if not keep(k)]:
                self._bytes -= self._data.pop(key)[1]

    def resize(self, max_bytes: int) -> None:
        """A new budget; the least recently used entries go until the rest fits."""
        _check_budget(max_bytes)
        with self._locked():
            self.max_bytes = max_bytes
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._data.popitem(last=False)
                self._bytes -= evicted


def _budget_from_env() -> int:
    """``ACTWIDGETS_CACHE_MB`` in bytes; a value that is no budget warns and gives the default."""
    text = os.environ.get("ACTWIDGETS_CACHE_MB", "").strip()
    if not text:
        return DEFAULT_CACHE_BYTES
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes >= 0):
        warnings.warn(f"ACTWIDGETS_CACHE_MB={text!r} is not a number of megabytes >= 0; the "
                      f"default budget of {DEFAULT_CACHE_BYTES // 2**20} MiB is used", RuntimeWarning,
                      stacklevel=2)
        return DEFAULT_CACHE_BYTES
    return int(megabytes * 2**20)


_SHARED = ByteLRU(_budget_from_env())


def shared_cache() -> ByteLRU:
    """The process-wide cache every network's :class:`CacheView` lives in."""
    return _SHARED


def set_cache_budget(megabytes: float) -> None:
    """Bound all activation caches together to ``megabytes`` (0 turns caching off).

    >>> set_cache_budget(256); shared_cache().max_bytes == 256 * 2**20
    True
    >>> set_cache_budget(512)
    """
    if (isinstance(megabytes, bool) or not isinstance(megabytes, (int, float))
            or not math.isfinite(megabytes) or megabytes < 0):
        raise ValueError(f"the cache budget is a number of megabytes >= 0, got {megabytes!r}")
    _SHARED.resize(int(megabytes * 2**20))


class CacheView:
    """One owner's entries in a shared :class:`ByteLRU` (its keys are ``(token, key)``).

    When the view is garbage-collected (its network is gone), its entries go too.

    >>> a, b = CacheView(), CacheView()
    >>> a.put("x", b"1" * 10, nbytes=10); "x" in a, "x" in b
    (True, False)
    >>> a.clear(); "x" in a
    False
    """

    def __init__(self, lru: ByteLRU | None = None) -> None:
        self.lru = lru if lru is not None else _SHARED
        self.hits = self.misses = 0
        self._token = object()
        weakref.finalize(self, self.lru._owner_gone, self._token)

    def __repr__(self) -> str:
        return f"CacheView({len(self)} entries, {self.nbytes / 2**20:.1f} MiB of the shared {self.lru!r})"

    def get(self, key: Hashable, default: Any = None) -> Any:
        value = self.lru.get((self._token, key), default)
        if value is default:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: Hashable, value: Any, nbytes: int | None = None) -> None:
        self.lru.put((self._token, key), value, nbytes)

    def __contains__(self, key: Hashable) -> bool:
        return (self._token, key) in self.lru

    def _mine(self) -> list:
        with self.lru._locked():
            return [(k, size) for k, (_, size) in self.lru._data.items() if _owned_by(k, self._token)]

    def __len__(self) -> int:
        return len(self._mine())

    @property
    def nbytes(self) -> int:
        """Bytes this owner holds now."""
        return sum(size for _, size in self._mine())

    def clear(self) -> None:
        """Drop this owner's entries (the others' stay)."""
        self.lru.drop(lambda key: not _owned_by(key, self._token))


def _owned_by(key: Hashable, token: object) -> bool:
    return isinstance(key, tuple) and bool(key) and key[0] is token
