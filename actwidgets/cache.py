"""An LRU cache bounded by bytes, for activations a widget shows again and again.

>>> cache = ByteLRU(max_bytes=1_000)
>>> cache.put("a", b"x" * 600, nbytes=600)
>>> cache.get("a") is not None
True
>>> cache.put("b", b"y" * 600, nbytes=600)   # evicts "a": 1,200 bytes > 1,000
>>> "a" in cache, "b" in cache
(False, True)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

__all__ = ["ByteLRU", "DEFAULT_CACHE_BYTES"]

#: Default budget of the activation cache: 256 MiB.
DEFAULT_CACHE_BYTES = 256 * 2**20


def _nbytes(value: Any) -> int:
    size = getattr(value, "nbytes", None)
    if size is None:
        raise TypeError(
            f"cannot tell the size of a {type(value).__name__}: pass nbytes= to ByteLRU.put"
        )
    return int(size)


class ByteLRU:
    """A least-recently-used cache whose entries together stay under ``max_bytes``.

    An entry larger than the whole budget is not stored. Thread-safe.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError(f"max_bytes must be a non-negative int, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
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
        return self._bytes

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The value for ``key`` (marking it recently used), or ``default``."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                self.misses += 1
                return default
            self._data.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any, nbytes: int | None = None) -> None:
        """Store ``value``, evicting the least recently used entries to stay in budget."""
        size = _nbytes(value) if nbytes is None else int(nbytes)
        with self._lock:
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
        with self._lock:
            self._data.clear()
            self._bytes = 0
