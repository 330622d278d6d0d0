"""The torch.fx backend: trace once, learn what every op reads and writes, run cut-down graphs.

At build time one profiling pass on the example input records, for every node, its value
and which earlier values it wrote into (an in-place ReLU, ``x.add_``, an op on a view): the
version counters that torch keeps per storage tell it, whatever the op or module. A request
then runs a copy of the graph that holds only what the requested values need, plus the
in-place ops that write into them, cut after the deepest one. A captured value is cloned
right after it is made when a later op of that graph writes into its storage; every other
captured value is checked by its version counter after the run, and a stale one is taken
again with a clone, so no request ever returns a value changed after its point.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace
from typing import Any

import torch
import torch.fx
from torch import nn

from .._torch_compat import global_hooks, has_hooks, version
from ._base import ExtractionError, Record, capturable, preserve_model_state
from ._kinds import is_activation, module_kind, op_kind, op_name, passes_through
from ._naming import INPUT_SUFFIX, function_call_name, input_name, module_call_name
from ._rewrite import out_of_place
from ._staleness import StateGuard
from ._trace import Profiler, Tracer, unseen

__all__ = ["FxBackend"]

_RUNNERS = 64  # cut-down graphs kept per model (a widget asks for one layer at a time)
# Where torch's own (pure unless named in place) functions live.
_PURE_HOMES = ("torch", "_operator", "operator", "math", "builtins", "torchvision")


def _fetch(model: nn.Module, target: str) -> object:
    obj: object = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _first_node(node: torch.fx.Node) -> torch.fx.Node | None:
    for a in (*node.args, *node.kwargs.values()):
        if isinstance(a, torch.fx.Node):
            return a
    return None


class FxBackend:
    """Points are graph nodes; see the module documentation."""

    name = "fx"

    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        self.model = model
        why = unseen(model)
        if why:
            raise ExtractionError(why)
        tracer = Tracer()
        # A forward pass that caches a value on first use (self.pe = ...) would keep a Proxy.
        guard = StateGuard(model)
        with guard.learn(), preserve_model_state(model):
            graph = tracer.trace(model)
            # What the graph's nodes call and read, taken before the model is put back: the
            # tracer stores tensor constants made in forward on the model (_tensor_constant0).
            self._root = {n.target: _fetch(model, n.target) for n in graph.nodes
                          if n.op in ("get_attr", "call_module")}
        if guard.buffers:  # an op on a buffer ran once, at trace time, instead of each run
            name = next(n for n, b in model.named_buffers() if b is guard.buffers[0])
            raise ExtractionError(f"forward writes into the buffer {name!r} with an op that "
                                  "tracing runs once instead of recording it")
        #: Whether the graph holds values the trace computed (from buffers, say): they are
        #: out of date once a buffer changes.
        self.constants = any(not hasattr(model, t.split(".")[0]) for t in self._root)
        if tracer.autocast is not None:
            where = repr(tracer.autocast) if tracer.autocast else "the model's forward"
            raise ExtractionError(f"{where} turns torch.autocast on or off, which a traced "
                                  "graph drops (its values would be float32)")
        self._graph = graph
        self._nodes = [n for n in graph.nodes if n.op != "output"]
        self._pos = {n: i for i, n in enumerate(self._nodes)}
        self._module_names = set(dict(model.named_modules()))
        self._names = self._name_nodes(tracer)
        self._by_name = {v: k for k, v in self._names.items()}
        self.aliases = self._container_aliases(tracer)
        profiler = Profiler(torch.fx.GraphModule(self._root, graph))
        with preserve_model_state(model), torch.no_grad():
            profiler.run(example)
        self._writers = self._find_writers(profiler)
        self._src: dict[torch.fx.Node, torch.fx.Node] = {}
        self.records, self.skipped = self._describe(profiler.values, example.shape[0])
        self._runners: OrderedDict[tuple, torch.fx.GraphModule] = OrderedDict()
        self._forced: set[str] = set()
        self._opaque_nodes = {n for n in self._nodes if self._opaque(n)}

    # ------------------------------------------------------------------ naming
    def _name_nodes(self, tracer: Tracer) -> dict[torch.fx.Node, str]:
        """Names by the shared rule; ``self._where[node]`` = (module or scope, op, call)."""
        names: dict[torch.fx.Node, str] = {}
        self._where: dict[torch.fx.Node, tuple[str, str, int]] = {}
        used: set[str] = set()
        counts: dict[tuple[str, ...], int] = {}
        for n in self._nodes:
            if n.op == "placeholder":
                name = n.name if n.name not in self._module_names else f"{n.name}{INPUT_SUFFIX}"
                where = ("", "input", 0)
            elif n.op == "call_module":
                k = counts[(n.target,)] = counts.get((n.target,), -1) + 1
                name = module_call_name(n.target, k, self._module_names)
                where = (n.target, "module", k)
            elif n.op in ("call_function", "call_method"):
                scope, op = tracer.scope_of.get(n, ""), op_name(n.target)
                k = counts[(scope, op)] = counts.get((scope, op), -1) + 1
                name, where = function_call_name(scope, op, k, self._module_names), (scope, op, k)
            else:
                continue
            while name in used:  # a collision no rule foresaw: stay unique
                name += "#"
            used.add(name)
            names[n], self._where[n] = name, where
        return names

    def _container_aliases(self, tracer: Tracer) -> dict[str, str]:
        aliases: dict[str, str] = {}
        counts: dict[str, int] = {}
        for qualname, node in tracer.container_out:
            k = counts[qualname] = counts.get(qualname, -1) + 1
            alias = module_call_name(qualname, k, self._module_names)
            if node in self._names and alias not in self._by_name:
                aliases[alias] = self._names[node]
        return aliases

    def _kind(self, n: torch.fx.Node) -> str:
        if n.op == "placeholder":
            return "input"
        if n.op == "call_module":
            return module_kind(self.model.get_submodule(n.target))
        return op_kind(op_name(n.target), n.args, n.kwargs)

    # ------------------------------------------------------------------ profiling
    def _find_writers(self, profiler: Profiler) -> dict[torch.fx.Node, list[int]]:
        """For each node, the positions of later nodes that write into its storage."""
        self._owners: dict[int, list[torch.fx.Node]] = {}  # storage -> nodes holding it
        self._keys = profiler.keys
        owners = self._owners
        writers: dict[torch.fx.Node, list[int]] = {}
        for n in self._nodes:
            for key in profiler.writes.get(n, ()):
                for m in owners.get(key, ()):
                    if m is not n:
                        writers.setdefault(m, []).append(self._pos[n])
            for key in profiler.keys.get(n, ()):
                owners.setdefault(key, []).append(n)
        return writers

    def _written(self, n: torch.fx.Node, start: int, stop: int) -> bool:
        return any(start < w < stop for w in self._writers.get(n, ()))

    def _producer(self, src: torch.fx.Node, until: int, kinds: dict) -> torch.fx.Node | None:
        """The node that made ``src``'s value, through identities, if unchanged until ``until``."""
        node = src
        while True:
            if node not in kinds or self._written(node, self._pos[node], until):
                return None
            prev = _first_node(node)
            if not passes_through(kinds[node], self._where[node][1]) or prev not in kinds:
                return node
            node = prev

    def _describe(self, values: dict, batch: int) -> tuple[list[Record], dict[str, str]]:
        """One record per capturable node (plus activation inputs), in forward order."""
        skipped: dict[str, str] = {}
        kinds: dict[torch.fx.Node, str] = {}
        for n in self._nodes:
            if n in self._names:
                why = capturable(values.get(n), batch)
                if why is None:
                    kinds[n] = self._kind(n)
                else:
                    skipped[self._names[n]] = why
        records: list[Record] = []
        at: dict[torch.fx.Node, int] = {}  # node -> its record's position in records
        for n, kind in kinds.items():
            module, op, call = self._where[n]
            src = _first_node(n)
            rec = Record(self._names[n], kind, op, module, call, tuple(values[n].shape[1:]),
                         src=next((self._names[a] for a in n.all_input_nodes if a in kinds), None))
            if is_activation(kind) and src in kinds:
                producer = self._producer(src, self._pos[n], kinds)
                if producer is None:  # the input changed since it was made: capture it here
                    rec = replace(rec, pre=input_name(rec.name))
                    self._src[n] = src
                    records.append(replace(rec, name=rec.pre, kind="input", op="input", of=rec.name,
                                           shape=tuple(values[src].shape[1:]), pre=None))
                else:
                    rec = replace(rec, pre=self._names[producer])
                    if not is_activation(kinds[producer]) and producer.op != "placeholder":
                        i = at[producer]
                        if records[i].post is None:
                            records[i] = replace(records[i], post=rec.name)
            at[n] = len(records)
            records.append(rec)
        return records, skipped

    # ------------------------------------------------------------------ running
    def _need(self, needed: set, roots: list) -> None:
        stack = list(roots)
        while stack:
            node = stack.pop()
            if node not in needed:
                needed.add(node)
                stack.extend(node.all_input_nodes)

    def _plan(self, names: tuple[str, ...]) -> list[tuple[str, torch.fx.Node, int]]:
        """(name, node whose value it is, position from which it must be unchanged)."""
        plan = []
        for name in names:
            if name.endswith(INPUT_SUFFIX) and name not in self._by_name:
                act = self._by_name[name[: -len(INPUT_SUFFIX)]]
                plan.append((name, self._src[act], self._pos[act]))
            else:
                node = self._by_name[name]
                plan.append((name, node, self._pos[node] + 1))
        return plan

    def _opaque(self, n: torch.fx.Node) -> bool:
        """Whether ``n`` may write into a value for some inputs only: the profile cannot tell.

        An op whose result nobody uses (it runs for its effect), a function that is not
        torch's (``torch.fx.wrap``), a leaf module that is not torch's own class.
        """
        if not n.users and n.op != "placeholder":
            return True
        if n.op == "call_module":
            return not type(self.model.get_submodule(n.target)).__module__.startswith("torch.")
        if n.op == "call_function":
            home = getattr(n.target, "__module__", None) or ""
            return not home.startswith(_PURE_HOMES)
        return False

    def _needed(self, plan: list[tuple[str, torch.fx.Node, int]]) -> set[torch.fx.Node]:
        """What the captures need, plus what may write into it before the cut."""
        cut = max(at for _, _, at in plan)
        needed: set[torch.fx.Node] = {n for n in self._nodes if n.op == "placeholder"}
        self._need(needed, [node for _, node, _ in plan])
        self._need(needed, [n for n in self._nodes[:cut] if n in self._opaque_nodes])
        grown = True
        while grown:
            grown = False
            for m in list(needed):
                for w in self._writers.get(m, ()):
                    if w < cut and self._nodes[w] not in needed:
                        self._need(needed, [self._nodes[w]])
                        grown = True
        return needed

    def _twin(self, node: torch.fx.Node, start: int, needed: set) -> tuple | None:
        """(position, out-of-place call) when the first op writing into ``node`` from
        ``start`` on is an in-place activation of it that can run out of place instead."""
        later = [w for w in self._writers.get(node, ()) if w >= start and self._nodes[w] in needed]
        if not later:
            return None
        w = min(later)
        writer = self._nodes[w]
        if _first_node(writer) is not node or not is_activation(self._kind(writer)):
            return None
        # Nothing else may hold node's storage before the writer (no alias would see it).
        for key in self._keys.get(node, ()):
            if any(o is not node and self._pos[o] < w for o in self._owners.get(key, ())):
                return None
        module = self.model.get_submodule(writer.target) if writer.op == "call_module" else None
        if module is not None and (has_hooks(module) or global_hooks()):
            return None  # a function call would skip the user's hooks on the module
        call = out_of_place(writer, module)
        return None if call is None else (w, call)

    def _runner(self, names: tuple[str, ...], forced: frozenset[str]) -> torch.fx.GraphModule:
        key = (names, forced)
        if key in self._runners:
            self._runners.move_to_end(key)
            return self._runners[key]
        plan = self._plan(names)
        needed = self._needed(plan)
        captures: dict[int, list[tuple[str, torch.fx.Node, bool]]] = {}
        twins: dict[int, tuple[torch.fx.Node, tuple]] = {}
        for name, node, start in plan:
            twin = None if name in forced else self._twin(node, start, needed)
            if twin is not None:
                twins[twin[0]] = (node, twin[1])
            clone = name in forced or (twin is None and any(
                w >= start and self._nodes[w] in needed for w in self._writers.get(node, ())))
            captures.setdefault(start, []).append((name, node, clone))
        gm = torch.fx.GraphModule(self._root, self._build(needed, captures, twins))
        self._runners[key] = gm
        if len(self._runners) > _RUNNERS:
            self._runners.popitem(last=False)
        return gm

    def _build(self, needed: set, captures: dict, twins: dict) -> torch.fx.Graph:
        graph = torch.fx.Graph()
        env: dict[torch.fx.Node, torch.fx.Node] = {}
        values: dict[str, torch.fx.Node] = {}
        versions: dict[str, torch.fx.Node] = {}

        def lookup(a: Any) -> Any:  # an argument of the new graph: a node's copy, else as is
            return env[a] if isinstance(a, torch.fx.Node) else a

        for i in range(max(captures) + 1):
            for name, node, clone in captures.get(i, ()):
                if clone:
                    values[name] = graph.call_function(torch.clone, (env[node],))
                else:
                    values[name] = env[node]
                    versions[name] = graph.call_function(version, (env[node],))
            if i >= len(self._nodes) or self._nodes[i] not in needed:
                continue
            node = self._nodes[i]
            if i in twins:  # the in-place activation, out of place: later uses see its result
                base, (op, target, args, kwargs) = twins[i]
                env[node] = graph.create_node(op, target, torch.fx.node.map_aggregate(args, lookup),
                                              torch.fx.node.map_aggregate(kwargs, lookup))
                env[base] = env[node]
            else:
                env[node] = graph.node_copy(node, lambda n: env[n])
        graph.output((values, versions))
        return graph

    def run(self, x: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        """The values of ``names`` (known point names) for batch ``x``."""
        forced = frozenset(self._forced.intersection(names))
        values, versions = self._runner(names, forced)(x)
        stale = {n for n, v in versions.items() if version(values[n]) != v}
        if stale:  # an op the profile did not see wrote into a value: take it again, cloned
            self._forced |= stale
            values, _ = self._runner(names, forced | stale)(x)
        if not isinstance(values, dict):
            raise ExtractionError("the traced graph returned no values")
        return values
