"""What a built extractor depends on (:class:`Fingerprint`), and leaving the model's own state
as it was after the package's passes (:class:`StateGuard`).

A trace, and a discovery pass, read the model as it is then: its modules, their hooks, the
Python attributes their ``forward`` reads, their parameters and buffers. The fingerprint keeps
every one of those objects (by identity: an attribute set to a new value, a hook added or
removed, a submodule replaced all show), and :meth:`Fingerprint.changed` says what changed in
a sentence, or None. Comparing two fingerprints is one list comparison; only a difference is
explained (slowly), and a difference in ``training`` flags alone (the package runs in eval
mode anyway) or in equal numbers is no change.

>>> from torch import nn
>>> model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU())
>>> fp = Fingerprint(model)
>>> fp.changed(model) is None
True
>>> h = model[0].register_forward_hook(lambda m, i, o: o * 0)
>>> fp.changed(model)
"a forward hook was added to or removed from '0'"
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from itertools import chain
from typing import Any

import torch
from torch import nn
from torch.utils.weak import WeakIdKeyDictionary

from .._torch_compat import (
    HOOK_STORES,
    MODULE_STORES,
    global_hook_dicts,
    global_hooks,
    own_tensors,
    submodules,
    version,
)

__all__ = ["Fingerprint", "StateGuard", "own_version", "walk"]

# What a hook, a parameter, a buffer or a submodule goes into (the ``_with_kwargs`` and
# ``_always_called`` dictionaries only flag entries of the hook dictionaries).
_CONTENTS = (*MODULE_STORES, *HOOK_STORES)
_WORDS = dict(zip(_CONTENTS, ("a parameter", "a buffer", "a submodule", "a forward hook",
                              "a forward pre-hook"), strict=True))
_PLAIN = (int, float, complex, str, bytes, bool, type(None))

#: Version-counter steps the package itself caused on a tensor (a buffer written by a
#: forward pass, then put back): :func:`own_version` takes them off.
_BUMPS: WeakIdKeyDictionary = WeakIdKeyDictionary()


def own_version(t: torch.Tensor) -> int:
    """``t._version`` less the steps the package's own passes caused (they left ``t`` as it was)."""
    return version(t) - _BUMPS.get(t, 0) if _BUMPS else version(t)


def walk(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) for every module once, like ``named_modules()``, but faster."""
    out, seen, stack = [], set(), [("", model)]
    while stack:
        name, m = stack.pop()
        if id(m) in seen:
            continue
        seen.add(id(m))
        out.append((name, m))
        prefix = name + "." if name else ""
        stack.extend((prefix + k, c) for k, c in reversed(submodules(m).items()) if c is not None)
    return out


def _same(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and isinstance(a, _PLAIN) and a == b)


def _explain(name: str, old: dict, new: dict, ignore: frozenset = frozenset(),
             attributes: bool = True) -> str | None:
    """What differs between two ``__dict__`` of module ``name`` (None: nothing that counts)."""
    where = repr(name) if name else "the model itself"
    for key in _CONTENTS:
        a, b = old.get(key) or {}, new.get(key) or {}
        if list(a) != list(b) or any(x is not y for x, y in zip(a.values(), b.values(), strict=True)):
            if key in MODULE_STORES:
                return f"{_WORDS[key]} of {where} was replaced, added or removed"
            return f"{_WORDS[key]} was added to or removed from {where}"
    for key in (old.keys() | new.keys()) if attributes else ():
        if key in _CONTENTS or key == "training" or key in ignore:
            continue
        if key not in old or key not in new or not _same(old[key], new[key]):
            return f"the attribute {key!r} of {where} changed"
    return None


class Fingerprint:
    """The identity of everything a trace or discovery pass of ``model`` read.

    ``tensors``: the model's parameters and buffers then (a replaced one is a change).
    """

    def __init__(self, model: nn.Module, ignore: dict[int, set[str]] | None = None,
                 attributes: bool = True) -> None:
        #: Attributes a forward pass itself sets (a call counter, a table cached on first
        #: use), by module id: their values are the forward pass's own, not a change.
        self.ignore = ignore if ignore is not None else {}
        #: Whether plain attributes count (False: only hooks, submodules, parameters, buffers).
        self.attributes = attributes
        mods = walk(model)
        self._dicts: list[dict] = global_hook_dicts()
        for _, m in mods:
            d = m.__dict__
            if attributes:
                self._dicts.append(d)
            self._dicts.extend(d[k] for k in _CONTENTS if isinstance(d.get(k), dict))
        self._values = self._read()
        self.tensors = [t for _, m in mods for t in own_tensors(m)]
        self._saved = {name: (m, dict(m.__dict__), {k: dict(m.__dict__.get(k) or {})
                                                     for k in _CONTENTS}) for name, m in mods}

    def _read(self) -> list[Any]:
        return [*chain.from_iterable(map(dict.values, self._dicts))]

    def changed(self, model: nn.Module) -> str | None:
        """What changed since, in words; None when nothing a forward pass reads did."""
        try:  # identical objects compare equal without calling their __eq__
            if self._read() == self._values:
                return None
        except Exception:  # noqa: BLE001, S110 - an attribute whose == is no bool (an array)
            pass  # look closer below
        reason = self._reason(model)
        if reason is None:  # training flags or equal numbers: adopt the new state
            self.__init__(model, self.ignore, self.attributes)  # type: ignore[misc]
        return reason

    def same(self) -> bool:
        """Whether nothing it holds changed (one list comparison)."""
        try:
            return bool(self._read() == self._values)
        except Exception:  # noqa: BLE001 - an attribute whose == is no bool (an array)
            return False

    def adopt(self, model: nn.Module) -> None:
        """Take the model as it is now: what a request's own forward pass set (a Python call
        counter) is the model's state, not a change made by its owner."""
        if not self.same():
            self.__init__(model, self.ignore, self.attributes)  # type: ignore[misc]

    def versions(self) -> tuple[int, ...]:
        """Each parameter's and buffer's version, less the package's own steps."""
        if _BUMPS:
            return tuple(map(own_version, self.tensors))
        return tuple(map(version, self.tensors))

    def _reason(self, model: nn.Module) -> str | None:
        if global_hooks():
            return "a global forward hook (register_module_forward_hook) is set"
        now = dict(walk(model))
        for name, (m, d, subs) in self._saved.items():
            if now.get(name) is not m:
                return f"the submodule {name!r} was replaced or removed"
            new = {k: dict(m.__dict__.get(k) or {}) for k in _CONTENTS}
            why = _explain(name, {**d, **subs}, {**m.__dict__, **new},
                           frozenset(self.ignore.get(id(m), ())), self.attributes)
            if why:
                return why
        extra = [n for n in now if n not in self._saved]
        return f"the submodule {extra[0]!r} was added" if extra else None


class StateGuard:
    """Puts back what the package's own forward passes change in the model.

    :meth:`learn` guards an internal pass (the build's trace, profiling or discovery pass,
    the batch-dependence check: every module's attributes, every buffer) and remembers what
    it changed: a Proxy a trace stored, a table cached on first use, a call counter, a
    running mean. :meth:`run` guards a request: the buffers a forward pass writes into are
    put back (a request's own Python side effects, like a call counter, stay: it is a real
    forward pass of the user's images).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.attributes: dict[int, set[str]] = {}  # module id -> attributes a forward sets
        self.buffers: list[torch.Tensor] = []  # buffers a forward pass writes into

    @contextlib.contextmanager
    def learn(self) -> Iterator[None]:
        # TorchScript modules hold no Python state of their own to put back (and their
        # dictionaries are wrappers that cannot be copied as dicts).
        mods = [m for _, m in walk(self.model) if not isinstance(m, torch.jit.ScriptModule)]
        saved = [_save(m) for m in mods]
        copies = [_copy(b) for b in self.model.buffers()]
        try:
            yield
        finally:
            for m, s in zip(mods, saved, strict=True):
                keys = _restore(m, s)
                if keys:
                    self.attributes.setdefault(id(m), set()).update(keys)
            for b, before, own, copy in copies:
                if version(b) != before:
                    _put_back(b, own, copy)
                    if not any(b is x for x in self.buffers):
                        self.buffers.append(b)

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        copies = [_copy(b) for b in self.buffers]
        try:
            yield
        finally:
            for b, before, own, copy in copies:
                if version(b) != before:
                    _put_back(b, own, copy)


def _save(m: nn.Module) -> tuple[dict, dict]:
    d = m.__dict__
    return dict(d), {k: dict(d[k]) for k in MODULE_STORES if k in d}


def _restore(m: nn.Module, saved: tuple[dict, dict]) -> set[str]:
    """Put ``m.__dict__`` back as ``saved``; the names of the attributes that had changed."""
    old, subs = saved
    d, changed = m.__dict__, set()
    for key in [k for k in d if k not in old]:
        del d[key]
        changed.add(key)
    for key, value in old.items():
        if d.get(key) is not value:
            d[key] = value
            changed.add(key)
    for key, content in subs.items():
        cur = d[key]
        if list(cur) != list(content) or any(
                a is not b for a, b in zip(cur.values(), content.values(), strict=True)):
            cur.clear()
            cur.update(content)
            changed.add(key)
    return changed


def _copy(b: torch.Tensor) -> tuple[torch.Tensor, int, int, torch.Tensor]:
    return b, version(b), own_version(b), b.detach().clone()


def _put_back(b: torch.Tensor, own: int, copy: torch.Tensor) -> None:
    """Write ``copy`` back into ``b``; ``own_version(b)`` becomes ``own`` again."""
    with torch.no_grad():
        b.copy_(copy)
    _BUMPS[b] = version(b) - own
