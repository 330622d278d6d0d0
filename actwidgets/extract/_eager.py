"""The eager backend ("hooks"): for models torch.fx cannot trace, any ``nn.Module`` at all.

Module calls are seen through forward hooks and pre-hooks; activation functions and methods
(``F.relu``, ``x.clamp_(min=0)``, ``torch.sigmoid``) through a ``TorchFunctionMode``, named
by the module they are called in, by the same rule as the fx backend. A discovery pass on
the example input learns every point, which values a later op writes into (version
counters; a value whose ``.data`` or NumPy view is taken is treated as written, since a
write through those, ``y.data.mul_(2)``, passes the version counter by), and which activation
consumes which value unchanged. A request clones the values that are written into later;
every other captured value is checked by its version counter after the run and taken again
with a clone if it changed. Hooks are registered in ``try`` and removed in ``finally``; the
forward pass stops once the last value is in hand.

What the example input decides must hold for every input. Where the forward pass reads a
tensor's values into Python (``if y.mean() > 0``, ``.item()``) between a value and the
activation that takes it, or inside a block, that branch may go another way for a real
image: the activation's input is then a point of its own (``relu:in``) and the block's output
its own value, never a stand-in. A request for both stages also checks, on every run, that
the activation took the paired value, and says so where it did not.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .._torch_compat import disable_torch_function, version
from ._base import ExtractionError, Record, capturable, preserve_model_state
from ._kinds import ACTIVATION_OPS, is_activation, is_leaf_module, module_kind, op_kind, op_name
from ._naming import INPUT_SUFFIX, function_call_name, input_name, module_call_name

__all__ = ["EagerBackend"]


class _Stop(Exception):
    """Raised inside a hook once every requested value is captured."""


#: Calls that read a tensor's values into Python: control flow may depend on them.
_DATA_READS = {"bool", "item", "tolist", "int", "float", "index", "numpy", "is_nonzero",
               "equal", "allclose"}


def _version(t: torch.Tensor) -> int:
    """``t``'s version counter; -1 for an inference tensor (``torch.inference_mode``), which
    has none: such a value is always cloned."""
    return -1 if t.is_inference() else version(t)


def _storage(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage
        return 0


def _bypasses_version(op: str, func: Any) -> bool:
    """``t.data``, ``t.numpy()``: aliases whose writes no version counter sees."""
    if op == "get":
        return getattr(getattr(func, "__self__", None), "__name__", None) == "data"
    return op in ("numpy", "array")


class _Call(NamedTuple):
    """A module or activation call, as a session hands it to ``on_value``."""

    scope: str  #: the module called (a module call), or the one the op is called in
    op: str  #: "module", or the op's name ("relu", "clamp_")
    call: int  #: 0-based count of that module's calls, or of that op's calls in the scope
    reads: int  #: the session's data reads so far (see ``_DATA_READS``)
    module: nn.Module | None = None  #: the module, for a module call
    kind: str = ""  #: an op's kind (a module's follows from the module)


class _Seen(NamedTuple):
    """What the discovery pass keeps of a record's value while it runs."""

    value: torch.Tensor  #: the value itself (kept alive: ids stay unique)
    version: int  #: its version counter then
    reads: int  #: the session's data reads when it was made


def _hookable(named: dict[str, nn.Module]) -> set[str]:
    """The modules hooks can be put on: not TorchScript ones, nor anything inside them."""
    script = [q for q, m in named.items() if isinstance(m, torch.jit.ScriptModule)]
    return {q for q in named if not any(q == s or q.startswith(s + ".") for s in script)}


class _Session:
    """One forward pass: counts calls, names them, and hands each value to ``on_value``.

    ``modules``: the qualified names to hook (all of them when ops are tracked).
    """

    def __init__(self, owner: EagerBackend, modules: set[str], track_ops: bool,
                 on_value: Any) -> None:
        self.owner = owner
        self.modules = modules
        self.track_ops = track_ops
        self.on_value = on_value
        self.counts: dict[tuple[str, ...], int] = {}
        # (qualname, point name, call, ops inside are not points, ignored call)
        self.stack: list[tuple[str, str, int, bool, bool]] = []
        self.paused: list[Any] = []  # torch-function switches turned off inside leaf modules
        self.reads = 0  # calls so far that read tensor values into Python (see _DATA_READS)
        self.bypassed: list[torch.Tensor] = []  # tensors whose .data or NumPy view was taken

    def _count(self, key: tuple[str, ...]) -> int:
        k = self.counts[key] = self.counts.get(key, -1) + 1
        return k

    def pre_hook(self, qualname: str) -> Any:
        leaf = qualname in self.owner.leaves

        def hook(module: nn.Module, args: tuple) -> None:
            if self.stack and self.stack[-1][3]:  # inside a leaf: fx sees none of it either
                self.stack.append((qualname, "", -1, True, True))
                return
            call = self._count((qualname,))
            name = module_call_name(qualname, call, self.owner.module_names)
            self.stack.append((qualname, name, call, leaf, False))
            inp = next((a for a in args if isinstance(a, torch.Tensor)), None)
            self.on_value("start", name, inp, _Call(qualname, "module", call, self.reads, module))
            if leaf and self.track_ops:
                # Nothing inside a leaf is a point; and an active mode would change what it
                # computes (MultiheadAttention's fast path checks for one).
                off = disable_torch_function()
                off.__enter__()
                self.paused.append(off)
        return hook

    def post_hook(self, qualname: str) -> Any:
        def hook(module: nn.Module, args: tuple, output: object) -> None:
            _, name, call, leaf, ignored = self.stack.pop()
            if leaf and not ignored and self.paused:
                self.paused.pop().__exit__(None, None, None)
            if not ignored:
                self.on_value("end", name, output,
                              _Call(qualname, "module", call, self.reads, module))
        return hook

    def function(self, func: Any, args: tuple, kwargs: dict) -> Any:
        op = op_name(func)
        if op in _DATA_READS:
            self.reads += 1
        if _bypasses_version(op, func) and args and isinstance(args[0], torch.Tensor):
            self.bypassed.append(args[0])
        if op not in ACTIVATION_OPS or not self.stack or self.stack[-1][3]:
            return func(*args, **kwargs)
        scope = self.stack[-1][0]
        call = self._count((scope, op))
        name = function_call_name(scope, op, call, self.owner.module_names)
        inp = args[0] if args else kwargs.get("input")
        info = _Call(scope, op, call, self.reads, kind=op_kind(op, args, kwargs))
        self.on_value("start", name, inp, info)
        out = func(*args, **kwargs)
        self.on_value("end", name, out, info._replace(reads=self.reads))
        return out

    def run(self, model: nn.Module, x: torch.Tensor) -> None:
        handles = []
        session = self

        class Mode(TorchFunctionMode):
            def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                                   kwargs: dict | None = None) -> Any:
                return session.function(func, args, kwargs or {})

        try:
            for qualname in self.modules & self.owner.hookable:
                module = self.owner.named[qualname]
                handles.append(module.register_forward_pre_hook(self.pre_hook(qualname)))
                handles.append(module.register_forward_hook(self.post_hook(qualname)))
            try:
                if self.track_ops:
                    with Mode():
                        model(x)
                else:
                    model(x)
            except _Stop:
                pass
        finally:
            while self.paused:  # the forward pass raised inside a leaf module
                self.paused.pop().__exit__(None, None, None)
            for h in handles:
                h.remove()


class EagerBackend:
    """Points are module calls and activation calls; see the module documentation."""

    name = "hooks"

    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        if isinstance(model, torch.jit.ScriptModule):
            raise ExtractionError(
                f"{type(model).__name__} is a TorchScript module (torch.jit.script or "
                "torch.jit.trace): neither hooks nor torch.fx can see inside it. Wrap the "
                "original nn.Module, the one you scripted.")
        self.model = model
        self.named = dict(model.named_modules())
        self.module_names = set(self.named)
        self.hookable = _hookable(self.named)
        self.leaves = {q for q, m in self.named.items() if q and is_leaf_module(m)}
        self.aliases: dict[str, str] = {}
        self._forced: set[str] = set()
        self.records, self.skipped, self._written = self._discover(example)
        self._by_name = {r.name: r for r in self.records}
        # (activation, the point it was paired with): checked on every run asking for both
        self._pairs = [(r.name, r.pre) for r in self.records
                       if is_activation(r.kind) and r.pre and r.pre != input_name(r.name)]

    # ------------------------------------------------------------------ discovery
    def _discover(self, example: torch.Tensor) -> tuple[list[Record], dict[str, str], set[str]]:
        found = _Discovery(self, example.shape[0])
        for q in sorted(self.module_names - self.hookable):
            if q.rpartition(".")[0] in self.hookable:  # the outermost TorchScript module
                found.skipped[q] = (
                    "it is a TorchScript module (torch.jit.script): hooks cannot be put on it "
                    "or inside it. Wrap the model with the original module to see its layers")
        session = _Session(self, self.module_names, True, found.on_value)
        with preserve_model_state(self.model), torch.no_grad():
            session.run(self.model, example)
        return found.finish({_storage(t) for t in session.bypassed} - {0})

    # ------------------------------------------------------------------ running
    def run(self, x: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """The values of ``names`` (known point names) for batch ``x``."""
        out = self._run(x, names, self._forced.union(self._written))
        stale = {n for n, (_, v) in out.items() if v is not None and _version(out[n][0]) != v}
        if stale:  # an op the discovery pass did not see wrote into a value: take it again
            self._forced |= stale
            out = self._run(x, names, self._forced.union(self._written))
        missing = [n for n in names if n not in out]
        if missing:
            raise ExtractionError(
                f"the forward pass never produced {missing}: the model's control flow differs "
                "for this input. Check the input size and the layer names (net.layers)."
            )
        return {n: value for n, (value, _) in out.items()}

    def _run(self, x: torch.Tensor, names: tuple[str, ...], clone: set[str]) -> dict:
        wanted = set(names)
        out: dict[str, tuple[torch.Tensor, int | None]] = {}
        check = {act: pre for act, pre in self._pairs if pre in wanted and act in wanted}
        made: dict[str, tuple[torch.Tensor, int]] = {}  # the paired values, as they were made
        recs = [self._by_name[n[: -len(INPUT_SUFFIX)]] if n.endswith(INPUT_SUFFIX)
                else self._by_name[n] for n in names]
        track_ops = any(r.op != "module" for r in recs)
        modules = self.module_names if track_ops else {r.module for r in recs}

        def on_value(event: str, name: str, value: object, info: _Call) -> None:
            if event == "start" and name in check and isinstance(value, torch.Tensor):
                self._check_pairing(check[name], name, made.get(check[name]), value)
            key = name if event == "end" else input_name(name)
            if key in wanted and isinstance(value, torch.Tensor) and key not in out:
                if key in check.values():
                    made[key] = (value, _version(value))
                out[key] = ((value.clone(), None) if key in clone or value.is_inference()
                            else (value, version(value)))
                if len(out) == len(wanted):
                    raise _Stop

        _Session(self, modules, track_ops, on_value).run(self.model, x)
        return out

    @staticmethod
    def _check_pairing(pre: str, act: str, made: tuple[torch.Tensor, int] | None,
                       value: torch.Tensor) -> None:
        """The activation ``act`` must take ``pre``'s value unchanged, as on the example."""
        if made is None or made[0] is not value or made[1] != _version(value):
            raise ExtractionError(
                f"for this input, {act!r} did not take {pre!r}'s value unchanged, as it did "
                "for the example input: the model's control flow depends on the input there, "
                f"so {pre!r} is not {act!r}'s pre stage for it. Ask for the two in separate "
                "requests, or build the extractor with an input like this one as its example "
                "(Extractor(model, x)).")


class _Discovery:
    """Collects the discovery pass's records; see :meth:`EagerBackend._discover`."""

    def __init__(self, owner: EagerBackend, batch: int) -> None:
        self.owner = owner
        self.batch = batch
        self.records: list[Record] = []
        self.seen: list[_Seen] = []  # per record: its value, version and reads
        self.skipped: dict[str, str] = {}
        self.first: dict[tuple[int, int], int] = {}  # (id, version) -> first record holding it
        self.inputs: dict[str, tuple[torch.Tensor, int]] = {}
        self.started: dict[str, int] = {}  # data reads before each call began
        self.keep: list[torch.Tensor] = []  # keeps ids unique while the pass runs

    def _add(self, rec: Record, seen: _Seen) -> int:
        self.records.append(rec)
        self.seen.append(seen)
        return len(self.records) - 1

    def on_value(self, event: str, name: str, value: object, info: _Call) -> None:
        if event == "start":
            self.started[name] = info.reads
            if isinstance(value, torch.Tensor):
                self.inputs[name] = (value, _version(value))
                self.keep.append(value)
            return
        if info.module is not None:
            if not info.scope:  # the model itself: its output is its last point's
                return
            kind = module_kind(info.module) if info.scope in self.owner.leaves else "block"
        else:
            kind = info.kind
        why = capturable(value, self.batch)
        if why is not None:
            self.skipped[name] = why
            return
        assert isinstance(value, torch.Tensor)
        state = (id(value), _version(value))
        # A container handing on a value is that value, unless its own path read tensor
        # values into Python (it may hand on another one for another input).
        if kind == "block" and state in self.first and info.reads == self.started[name]:
            self.owner.aliases[name] = self.records[self.first[state]].name
            return
        rec = Record(name, kind, info.op, info.scope, info.call, tuple(value.shape[1:]),
                     src=self._source(name))
        self.keep.append(value)
        if is_activation(kind):
            rec = self._pair(rec)
        self.first.setdefault(state, len(self.records))
        self._add(rec, _Seen(value, _version(value), info.reads))

    def _producer(self, name: str) -> int | None:
        """The record that made the input of the call ``name``."""
        inp = self.inputs.get(name)
        return self.first.get((id(inp[0]), inp[1])) if inp is not None else None

    def _source(self, name: str) -> str | None:
        """The point that made the input of the call ``name`` (for its layout)."""
        i = self._producer(name)
        return None if i is None else self.records[i].name

    def _pair(self, rec: Record) -> Record:
        """``rec`` (an activation) with its pre stage; its producer gets ``rec`` as post."""
        inp, i = self.inputs.get(rec.name), self._producer(rec.name)
        if i is not None and self.seen[i].reads != self.started[rec.name]:
            i = None  # values were read in between: the path may differ per input
        if i is None:
            if inp is None or capturable(inp[0], self.batch) is not None:
                return rec
            rec = replace(rec, pre=input_name(rec.name))
            self._add(replace(rec, name=rec.pre, kind="input", op="input", pre=None, of=rec.name,
                              shape=tuple(inp[0].shape[1:])), _Seen(inp[0], inp[1], -1))
            return rec
        producer = self.records[i]
        if (not is_activation(producer.kind) and producer.post is None
                and producer.kind not in ("input", "identity", "dropout")):
            self.records[i] = replace(producer, post=rec.name)
        return replace(rec, pre=producer.name)

    def finish(self, bypassed: set[int]) -> tuple[list[Record], dict[str, str], set[str]]:
        """Records, skipped points, and the points whose value a later op wrote into (or
        may have: ``bypassed`` holds the storages reached through ``.data`` or NumPy)."""
        written = {r.name for r, (value, made, _) in zip(self.records, self.seen, strict=True)
                   if made != _version(value) or value.is_inference()
                   or _storage(value) in bypassed}
        return self.records, self.skipped, written
