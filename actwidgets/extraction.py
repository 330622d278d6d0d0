"""Capture intermediate values of any ``nn.Module``: the only module that touches hooks or torch.fx.

Two backends give the same tensors where both apply:

- ``"fx"``: the model is traced once with torch.fx (torchvision's node naming); each request
  runs a copy of the graph cut after the deepest requested node, with a clone inserted right
  after each captured node, so an in-place ReLU later in the graph cannot change it.
- ``"hooks"``: for models fx cannot trace. Forward hooks clone each captured output (or, for
  an activation's ``pre`` stage, a forward pre-hook clones its input), and the forward pass is
  stopped by an exception once the last requested value is in hand. Hooks are registered in
  ``try`` and removed in ``finally``.

Either way :meth:`Extractor.run` puts the model in eval mode and restores every submodule's
training flag and every parameter's ``requires_grad`` afterwards, even when the forward pass
raises.

>>> import torch
>>> from torch import nn
>>> model = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU(inplace=True))
>>> _ = model[0].weight.data.fill_(-1.0)
>>> ext = Extractor(model, torch.ones(1, 1, 2, 2))
>>> out = ext.run(torch.ones(1, 1, 2, 2), ["0", "1"])
>>> out["0"].flatten().tolist(), out["1"].flatten().tolist()   # pre-ReLU survives the in-place ReLU
([-1.0, -1.0, -1.0, -1.0], [0.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import contextlib
import math
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

__all__ = ["Point", "Extractor", "ExtractionError", "preserve_model_state", "KINDS"]

#: The kinds a point can have.
KINDS = (
    "input", "conv", "relu", "activation", "pool", "concat", "norm", "linear", "add",
    "block", "softmax", "dropout", "flatten", "other",
)

_MODULE_KINDS: tuple[tuple[tuple[type, ...], str], ...] = (
    ((nn.modules.conv._ConvNd,), "conv"),
    ((nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU), "relu"),
    ((nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Hardsigmoid,
      nn.Mish, nn.Softplus, nn.SELU, nn.CELU, nn.Hardtanh), "activation"),
    ((nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
      nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd), "pool"),
    ((nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm), "norm"),
    ((nn.Linear, nn.Bilinear), "linear"),
    ((nn.Softmax, nn.LogSoftmax), "softmax"),
    ((nn.modules.dropout._DropoutNd,), "dropout"),
    ((nn.Flatten, nn.Unflatten), "flatten"),
)

_FUNCTION_KINDS: dict[object, str] = {
    F.relu: "relu", torch.relu: "relu", F.relu6: "relu", F.leaky_relu: "relu",
    torch.relu_: "relu", F.relu_: "relu",
    F.gelu: "activation", F.silu: "activation", torch.sigmoid: "activation",
    F.sigmoid: "activation", torch.tanh: "activation", F.tanh: "activation",
    F.hardswish: "activation", F.elu: "activation", F.mish: "activation",
    torch.cat: "concat", torch.concat: "concat",
    operator.add: "add", torch.add: "add", operator.iadd: "add",
    F.max_pool2d: "pool", F.avg_pool2d: "pool", F.adaptive_avg_pool2d: "pool",
    F.adaptive_max_pool2d: "pool", F.max_pool1d: "pool", F.avg_pool1d: "pool",
    torch.flatten: "flatten", F.dropout: "dropout", F.softmax: "softmax",
    torch.softmax: "softmax", F.linear: "linear", F.conv2d: "conv",
}

_METHOD_KINDS = {
    "relu": "relu", "relu_": "relu", "sigmoid": "activation", "tanh": "activation",
    "add": "add", "add_": "add", "flatten": "flatten", "view": "flatten",
    "reshape": "flatten", "softmax": "softmax",
}

_ACTIVATIONS = ("relu", "activation")


class ExtractionError(RuntimeError):
    """A request the extractor cannot serve; the message says what to do instead."""


class _Stop(Exception):
    """Raised inside a hook once every requested value is captured."""


@dataclass(frozen=True)
class Point:
    """A place in the forward pass whose value can be captured.

    ``shape`` excludes the batch axis. ``pre`` is the point whose value is this point's
    ``pre`` stage when that differs from its own output (an activation's input, or a conv's
    own output when an activation follows it); ``post`` likewise for the ``post`` stage.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    index: int
    module: str | None = None
    pre: str | None = None
    post: str | None = None
    visible: bool = True

    @property
    def channels(self) -> int:
        return int(self.shape[0]) if self.shape else 1

    @property
    def size(self) -> tuple[int, int]:
        if len(self.shape) >= 3:
            return int(self.shape[-2]), int(self.shape[-1])
        return 1, 1


def module_kind(module: nn.Module) -> str:
    """The kind of a leaf module ("conv", "relu", ...), or "other"."""
    for types, kind in _MODULE_KINDS:
        if isinstance(module, types):
            return kind
    return "other"


@contextlib.contextmanager
def preserve_model_state(
    model: nn.Module, *, eval_mode: bool = True, freeze: bool = False
) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (and freeze its parameters) for a while, then restore it.

    Every submodule's ``training`` flag and every parameter's ``requires_grad`` come back as
    they were, also when the body raises.
    """
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    try:
        if eval_mode:
            model.eval()
        if freeze:
            for p, _ in grads:
                p.requires_grad_(False)
        yield model
    finally:
        for m, mode in modes:
            m.training = mode
        for p, flag in grads:
            p.requires_grad_(flag)


def _tracer() -> torch.fx.Tracer:
    from torchvision.models.feature_extraction import NodePathTracer
    import torchvision

    leaf: list[type] = []
    for name in ("MultiScaleRoIAlign", "FrozenBatchNorm2d"):
        if hasattr(torchvision.ops, name):
            leaf.append(getattr(torchvision.ops, name))
    return NodePathTracer(autowrap_modules=(math, torchvision.ops), leaf_modules=leaf)


def _is_tensor_shape(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.dim() >= 1


_VIEW_METHODS = {"view", "reshape", "flatten", "permute", "transpose", "squeeze", "unsqueeze",
                 "contiguous", "expand", "narrow", "view_as", "t", "__getitem__"}
_VIEW_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose,
                   torch.permute, operator.getitem, torch.narrow}


def _mutates_in_place(node: torch.fx.Node, module_of: Any) -> bool:
    """Whether ``node`` writes into its first argument (an in-place ReLU, ``x.add_``)."""
    if node.kwargs.get("inplace") is True:
        return True
    if node.op == "call_module":
        return getattr(module_of(node.target), "inplace", False) is True
    if node.op == "call_method":
        return str(node.target).endswith("_") and not str(node.target).startswith("__")
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        return name.endswith("_") and not name.startswith("__") or node.target is operator.iadd
    return False


def _changed_later(node: torch.fx.Node, module_of: Any, out_of_place: Any = None) -> bool:
    """Whether any later op may change ``node``'s value in place (through a view, too).

    ``out_of_place(user)`` tells which direct users the runner rewrites to out-of-place ops.
    """
    for user in node.users:
        if _mutates_in_place(user, module_of):
            if out_of_place is None or out_of_place(user) is None or user.args[0] is not node:
                return True
            continue
        is_view = (user.op == "call_method" and user.target in _VIEW_METHODS) or (
            user.op == "call_function" and user.target in _VIEW_FUNCTIONS
        )
        if is_view and _changed_later(user, module_of):
            return True
    return False


@dataclass
class _FxState:
    graph: torch.fx.Graph
    node_by_name: dict[str, torch.fx.Node]
    name_by_node: dict[torch.fx.Node, str]
    runners: dict[tuple[tuple[str, ...], bool], torch.fx.GraphModule] = field(default_factory=dict)


class Extractor:
    """Captures named intermediate values of ``model``.

    ``example_input`` (a batch, e.g. ``torch.zeros(1, 3, 224, 224)``) is run once to learn
    every point's shape. ``backend="auto"`` uses torch.fx where the model traces and hooks
    where it does not.
    """

    def __init__(
        self, model: nn.Module, example_input: torch.Tensor, backend: str = "auto"
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if backend not in ("auto", "fx", "hooks"):
            raise ValueError(f'backend must be "auto", "fx" or "hooks", got {backend!r}')
        self.model = model
        self._fx: _FxState | None = None
        self.trace_error: str | None = None
        if backend in ("auto", "fx"):
            try:
                self._fx = self._trace()
            except Exception as exc:  # fx raises many kinds of errors on untraceable code
                if backend == "fx":
                    raise ExtractionError(
                        f"torch.fx cannot trace {type(model).__name__}: {exc}. "
                        'Use backend="hooks", which works with any nn.Module.'
                    ) from exc
                self.trace_error = f"{type(exc).__name__}: {exc}"
        self.backend = "fx" if self._fx is not None else "hooks"
        self.aliases: dict[str, str] = {}
        self.points: list[Point] = (
            self._fx_points(example_input) if self._fx is not None else self._hook_points(example_input)
        )
        self._by_name = {p.name: p for p in self.points}

    def __repr__(self) -> str:
        return f"Extractor({type(self.model).__name__}, backend={self.backend!r}, {len(self.points)} points)"

    # ------------------------------------------------------------------ lookup
    def point(self, name: str) -> Point:
        """The point called ``name`` (container module names resolve to their output)."""
        name = self.aliases.get(name, name)
        try:
            return self._by_name[name]
        except KeyError:
            raise ExtractionError(f"no point named {name!r} in {type(self.model).__name__}") from None

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self._by_name

    # ------------------------------------------------------------------ running
    def run(
        self, x: torch.Tensor, names: Sequence[str], *, grad: bool = False
    ) -> dict[str, torch.Tensor]:
        """Run the model on batch ``x`` and return the values of the points ``names``.

        Only what the deepest requested point needs is computed. The values keep their
        batch axis. With ``grad=True`` the autograd graph is kept (the caller decides
        which tensors require grad); otherwise this runs under ``torch.no_grad()``.
        """
        if isinstance(names, str):
            names = [names]
        if not names:
            raise ValueError("names is empty: ask for at least one point")
        wanted = [self.point(n).name for n in names]
        unique = tuple(dict.fromkeys(wanted))
        ctx = contextlib.nullcontext() if grad else torch.no_grad()
        with preserve_model_state(self.model, eval_mode=True), ctx:
            if self._fx is not None:
                out = self._run_fx(x, unique)
            else:
                out = self._run_hooks(x, unique)
        return {n: out[self.point(n).name] for n in names}

    # ------------------------------------------------------------------ fx backend
    def _trace(self) -> _FxState:
        with preserve_model_state(self.model, eval_mode=True):
            tracer = _tracer()
            graph = tracer.trace(self.model)
        name_by_node = dict(tracer.node_to_qualname)
        for node in graph.nodes:  # placeholders and output are not named by the tracer
            name_by_node.setdefault(node, node.name)
        return _FxState(graph, {v: k for k, v in name_by_node.items()}, name_by_node)

    def _node_kind(self, node: torch.fx.Node) -> str:
        if node.op == "placeholder":
            return "input"
        if node.op == "call_module":
            return module_kind(self.model.get_submodule(node.target))
        if node.op == "call_function":
            return _FUNCTION_KINDS.get(node.target, "other")
        if node.op == "call_method":
            return _METHOD_KINDS.get(node.target, "other")
        return "other"

    def _fx_points(self, example: torch.Tensor) -> list[Point]:
        fx = self._fx
        assert fx is not None
        names = [
            fx.name_by_node[n] for n in fx.graph.nodes if n.op not in ("output", "get_attr")
        ]
        shapes: dict[str, tuple[int, ...]] = {}
        gm = self._runner(tuple(names), clone=False)
        with preserve_model_state(self.model), torch.no_grad():
            values = gm(example)
        for name, value in values.items():
            if _is_tensor_shape(value) and value.dim() >= 2:
                shapes[name] = tuple(value.shape[1:])
        kinds = {n: self._node_kind(fx.node_by_name[n]) for n in shapes}

        # Pair each activation with the value it consumes.
        pre: dict[str, str] = {}
        post: dict[str, str] = {}
        for name in shapes:
            if kinds[name] not in _ACTIVATIONS:
                continue
            node = fx.node_by_name[name]
            src = next((a for a in node.args if isinstance(a, torch.fx.Node)), None)
            if src is None or fx.name_by_node[src] not in shapes:
                continue
            src_name = fx.name_by_node[src]
            pre[name] = src_name
            if kinds[src_name] not in _ACTIVATIONS and src_name not in post:
                post[src_name] = name

        # Nodes before the first module call are input transforms (GoogLeNet's), not layers.
        first_module = next(
            (i for i, n in enumerate(names) if fx.node_by_name[n].op == "call_module"), 0
        )
        points = []
        for i, name in enumerate(names):
            if name not in shapes:
                continue
            node = fx.node_by_name[name]
            kind = kinds[name]
            visible = (
                i >= first_module
                and kind not in ("input", "other", "dropout", "flatten")
                and len(shapes[name]) >= 1
            )
            module = node.target if node.op == "call_module" else None
            points.append(
                Point(name, kind, shapes[name], len(points), module, pre.get(name),
                      post.get(name), visible)
            )
        # Container modules (a Fire block, GoogLeNet's BasicConv2d) name their last node.
        for point in points:
            parts = point.name.split(".")
            for depth in range(1, len(parts)):
                prefix = ".".join(parts[:depth])
                if prefix not in shapes:
                    self.aliases[prefix] = point.name
        return points

    def _runner(self, names: tuple[str, ...], *, clone: bool) -> torch.fx.GraphModule:
        fx = self._fx
        assert fx is not None
        key = (names, clone)
        cached = fx.runners.get(key)
        if cached is not None:
            return cached
        targets = {fx.node_by_name[n] for n in names}
        needed: set[torch.fx.Node] = set()

        def need(*nodes: torch.fx.Node) -> None:
            stack = list(nodes)
            while stack:
                node = stack.pop()
                if node not in needed:
                    needed.add(node)
                    stack.extend(node.all_input_nodes)

        need(*targets)
        # An in-place op whose result nobody uses still changes a needed value (y.relu_()):
        # keep it, and what it needs, up to the deepest target.
        all_nodes = list(fx.graph.nodes)
        deepest = max(all_nodes.index(t) for t in targets)
        for node in all_nodes[:deepest]:
            if node not in needed and _mutates_in_place(node, self.model.get_submodule):
                base = node.args[0] if node.args and isinstance(node.args[0], torch.fx.Node) else None
                while base is not None and base not in needed and base.args and isinstance(
                    base.args[0], torch.fx.Node
                ) and (base.target in _VIEW_METHODS or base.target in _VIEW_FUNCTIONS):
                    base = base.args[0]
                if base is not None and base in needed:
                    need(node)
        order = [n for n in all_nodes if n in needed]
        last = max(order.index(t) for t in targets)
        graph = torch.fx.Graph()
        env: dict[torch.fx.Node, torch.fx.Node] = {}
        outputs: dict[str, torch.fx.Node] = {}
        captured = targets if clone else set()
        for i, node in enumerate(order):
            env[node] = self._copy_node(graph, node, env, captured)
            if node in targets:
                name = fx.name_by_node[node]
                # Clone right away, before an in-place op that follows can change the value;
                # a value no later op mutates, and the deepest one, need no copy.
                if clone and i != last and _changed_later(node, self.model.get_submodule,
                                                          self._out_of_place):
                    outputs[name] = graph.call_function(torch.clone, (env[node],))
                else:
                    outputs[name] = env[node]
        graph.output(outputs)
        gm = torch.fx.GraphModule(self.model, graph)
        fx.runners[key] = gm
        if len(fx.runners) > 64:  # a widget asks for one layer at a time: keep the recent ones
            fx.runners.pop(next(iter(fx.runners)))
        return gm

    def _out_of_place(self, node: torch.fx.Node) -> tuple[Any, dict[str, Any]] | None:
        """For an in-place activation, the out-of-place function and kwargs that replace it."""
        if node.op == "call_module":
            module = self.model.get_submodule(node.target)
            if type(module) is nn.ReLU and module.inplace:
                return torch.relu, {}
            if type(module) is nn.ReLU6 and module.inplace:
                return F.relu6, {}
        elif node.op == "call_function" and node.kwargs.get("inplace") is True and node.target in (
            F.relu, F.relu6, F.leaky_relu, F.hardtanh, F.elu
        ):
            return node.target, {**node.kwargs, "inplace": False}
        return None

    def _copy_node(
        self, graph: torch.fx.Graph, node: torch.fx.Node, env: dict, captured: set
    ) -> torch.fx.Node:
        """Copy ``node``; an in-place activation of a captured value becomes out-of-place.

        That keeps the captured value intact without a clone (one memory pass less). The
        user's modules are not changed: only this copy of the graph calls ``torch.relu``.
        """
        src = node.args[0] if node.args and isinstance(node.args[0], torch.fx.Node) else None
        if src is not None and src in captured:
            replacement = self._out_of_place(node)
            if replacement is not None:
                fn, kwargs = replacement
                args = tuple(env[a] if isinstance(a, torch.fx.Node) else a for a in node.args)
                return graph.call_function(fn, args, kwargs)
        return graph.node_copy(node, lambda n: env[n])

    def _run_fx(self, x: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        gm = self._runner(names, clone=True)
        out = gm(x)
        if not isinstance(out, dict):
            raise ExtractionError("the traced graph returned no values")
        return out

    # ------------------------------------------------------------------ hook backend
    def _hook_points(self, example: torch.Tensor) -> list[Point]:
        records: list[dict] = []
        counts: dict[str, int] = {}
        leaves = {name for name, m in self.model.named_modules() if not list(m.children())}
        handles = []

        def hook(name: str):
            def fn(module: nn.Module, inputs: tuple, output: object) -> None:
                if not isinstance(output, torch.Tensor):
                    return
                k = counts.get(name, 0)
                counts[name] = k + 1
                pname = name if k == 0 else f"{name}_{k}"
                inp = next((a for a in inputs if isinstance(a, torch.Tensor)), None)
                records.append(
                    dict(name=pname, module=name, leaf=name in leaves, out=output,
                         value=output.detach().clone(), inp=inp,
                         kind=module_kind(module) if name in leaves else "block")
                )
            return fn

        try:
            for name, module in self.model.named_modules():
                if name:
                    handles.append(module.register_forward_hook(hook(name)))
            with preserve_model_state(self.model), torch.no_grad():
                self.model(example)
        finally:
            for h in handles:
                h.remove()

        points: list[Point] = []
        pre: dict[str, str] = {}
        post: dict[str, str] = {}
        seen: list[dict] = []
        for rec in records:
            value = rec["value"]
            if not rec["leaf"] and seen:
                last = seen[-1]
                if rec["out"] is last["out"] and torch.equal(value, last["value"]):
                    self.aliases[rec["name"]] = last["name"]  # a Sequential: same tensor
                    continue
                if (rec["out"] is last["out"] or rec["out"].data_ptr() == last["out"].data_ptr()) \
                        and torch.equal(value, torch.relu(last["value"])):
                    rec["kind"] = "relu"  # a functional in-place ReLU inside a container
                    pre[rec["name"]] = last["name"]
                    post.setdefault(last["name"], rec["name"])
            if rec["kind"] in _ACTIVATIONS and rec["name"] not in pre:
                src = next(
                    (s for s in reversed(seen) if rec["inp"] is not None and s["out"] is rec["inp"]),
                    None,
                )
                if src is not None:
                    pre[rec["name"]] = src["name"]
                    if src["kind"] not in _ACTIVATIONS:
                        post.setdefault(src["name"], rec["name"])
                else:
                    pre[rec["name"]] = rec["name"] + ":in"
            seen.append(rec)
        for rec in seen:
            shape = tuple(rec["value"].shape[1:])
            if len(rec["value"].shape) < 2:
                continue
            visible = rec["kind"] not in ("other", "dropout", "flatten")
            points.append(Point(rec["name"], rec["kind"], shape, len(points), rec["module"],
                                pre.get(rec["name"]), post.get(rec["name"]), visible))
        # The input of an activation whose producer is not a module call.
        for p in list(points):
            if p.pre and p.pre.endswith(":in"):
                src = next(r for r in seen if r["name"] == p.name)
                points.append(Point(p.pre, "input", tuple(src["inp"].shape[1:]), len(points),
                                    p.module, None, None, False))
        return points

    def _run_hooks(self, x: torch.Tensor, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
        by_module: dict[str, list[tuple[int, str, bool]]] = {}
        for n in names:
            p = self._by_name[n]
            base = n[:-3] if n.endswith(":in") else n
            call = 0
            if base != p.module:
                call = int(base.rsplit("_", 1)[1])
            by_module.setdefault(p.module or "", []).append((call, n, n.endswith(":in")))
        out: dict[str, torch.Tensor] = {}
        handles = []
        counts: dict[str, int] = {}

        def done() -> None:
            if len(out) == len(names):
                raise _Stop

        def make(module_name: str, want_input: bool):
            wanted = {(c, n) for c, n, is_in in by_module[module_name] if is_in == want_input}

            def grab(call: int, value: object) -> None:
                for c, n in wanted:
                    if c == call and isinstance(value, torch.Tensor):
                        out[n] = value.clone()
                done()

            if want_input:
                def pre_hook(module: nn.Module, inputs: tuple) -> None:
                    call = counts.get(module_name + ":in", 0)
                    counts[module_name + ":in"] = call + 1
                    grab(call, next((a for a in inputs if isinstance(a, torch.Tensor)), None))
                return pre_hook

            def post_hook(module: nn.Module, inputs: tuple, output: object) -> None:
                call = counts.get(module_name, 0)
                counts[module_name] = call + 1
                grab(call, output)
            return post_hook

        try:
            for module_name, wants in by_module.items():
                module = self.model.get_submodule(module_name)
                if any(not is_in for _, _, is_in in wants):
                    handles.append(module.register_forward_hook(make(module_name, False)))
                if any(is_in for _, _, is_in in wants):
                    handles.append(module.register_forward_pre_hook(make(module_name, True)))
            try:
                self.model(x)
            except _Stop:
                pass
        finally:
            for h in handles:
                h.remove()
        missing = [n for n in names if n not in out]
        if missing:
            raise ExtractionError(
                f"the forward pass never produced {missing}: the model's control flow differs "
                "for this input. Check the input size and the layer names (net.layers)."
            )
        return out
