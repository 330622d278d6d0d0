"""Reference implementations of the extractor's contract, written from scratch for the tests.

Nothing here imports ``actwidgets.extract``'s internals: the corpus test (``test_corpus.py``)
checks the package against code that shares none of its logic.

- :class:`HookCapture`: a deep copy run eagerly, hooks and pre-hooks on every module and a
  ``TorchFunctionMode`` for activation functions, every value cloned when seen.
- :func:`fx_capture`: our own ``torch.fx.Tracer`` (it remembers the module each node was
  made in), run by an ``Interpreter`` that clones each node's first tensor argument right
  before it runs and its value right after.

Both fill a :class:`Capture` keyed by ``("module", qualname, k)`` (the k-th call's output),
``("in", qualname, k)`` (its first tensor input, before it ran), ``("op", scope, op, k)``
and ``("opin", scope, op, k)`` (the same for the k-th call of op ``op`` in module ``scope``),
and ``("input",)``. The rest restates the contract (activations, leaves, names, layouts, an
untouched model) and compares the package's values with a capture.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
import torchvision.ops
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_map

# ---------------------------------------------------------------------- the contract
ACTIVATION_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU,
                      nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid,
                      nn.Sigmoid, nn.Tanh, nn.Softplus)
_BOUNDED_OPS = {"clamp", "clamp_", "clamp_min", "clamp_min_", "hardtanh", "hardtanh_"}
ACTIVATION_OPS = _BOUNDED_OPS | {
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu", "rrelu_",
    "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish", "hardswish",
    "hardsigmoid", "sigmoid", "sigmoid_", "tanh", "tanh_", "softplus"}
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
_REFLECTED = {"radd": "add", "rmul": "mul", "rsub": "sub", "rtruediv": "truediv",
              "rmatmul": "matmul"}


def op_name(target: Any) -> str:
    """``F.relu`` → "relu", ``"clamp_"`` → "clamp_", ``operator.add``/``__radd__`` → "add"."""
    name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
    return _REFLECTED.get(name, name)


def _is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def is_activation_op(op: str, args: tuple, kwargs: dict) -> bool:
    """An activation function call; clamp and hardtanh only with a lower bound of 0."""
    if op not in ACTIVATION_OPS:
        return False
    if op not in _BOUNDED_OPS:
        return True
    if op.startswith("hardtanh"):
        return _is_zero(kwargs.get("min_val", args[1] if len(args) > 1 else -1.0))
    return _is_zero(kwargs.get("min", args[1] if len(args) > 1 else None))


def is_activation_module(module: nn.Module) -> bool:
    if isinstance(module, nn.Hardtanh):  # ReLU6 is one; Hardtanh(-1, 1) is no activation
        return module.min_val == 0
    return isinstance(module, ACTIVATION_MODULES)


def is_leaf(module: nn.Module) -> bool:
    """torch.nn's own modules but its containers, and childless subclasses of its layers."""
    if isinstance(module, _CONTAINERS):
        return False
    if type(module).__module__.startswith("torch.nn."):
        return True
    torch_bases = [c for c in type(module).__mro__[1:]
                   if c.__module__.startswith("torch.nn.") and c is not nn.Module]
    return bool(torch_bases) and next(module.children(), None) is None


def numbered(base: str, call: int, modules: set[str]) -> str:
    """``base`` for call 0, ``base_k`` for call k, ``base#k`` where ``base_k`` is a module."""
    if call == 0:
        return base
    name = f"{base}_{call}"
    return f"{base}#{call}" if name in modules else name


def expected_name(point: Any, modules: set[str]) -> str | None:
    """The name the contract gives ``point`` (None: an input point, checked elsewhere)."""
    if point.op == "input":
        return None
    if point.op == "module":
        return numbered(point.module, point.call, modules)
    base = f"{point.module}.{point.op}" if point.module else point.op
    if base in modules:
        base += "_fn"
    return numbered(base, point.call, modules)


def first_tensor(args: Any, kwargs: dict | None = None) -> torch.Tensor | None:
    for a in (*args, *(kwargs or {}).values()):
        if isinstance(a, torch.Tensor):
            return a
    return None


def clone_tree(value: Any) -> Any:
    return tree_map(lambda v: v.detach().clone() if isinstance(v, torch.Tensor) else v, value)


def to_map(value: torch.Tensor, kind: str, extra: int, map_shape: tuple) -> torch.Tensor:
    """A value (N, ...) in layout ``kind`` as (N, C, H, W), per the layout table."""
    n, (c, h, w) = value.shape[0], map_shape
    if kind == "chw":
        return value
    if kind == "hwc":
        return value.permute(0, 3, 1, 2)
    if kind == "tokens":
        return value[:, extra:].transpose(1, 2).reshape(n, c, h, w)
    return value.reshape(n, c, h, w)  # channel_tokens, vector, matrix, stacked


# ---------------------------------------------------------------------- captures
@dataclass
class Capture:
    """Cloned values by key (see the module's table), and which calls were activations."""

    values: dict[tuple, Any] = field(default_factory=dict)
    activations: list[tuple] = field(default_factory=list)  # output keys of activation calls
    counts: dict[tuple, int] = field(default_factory=dict)

    def count(self, key: tuple) -> int:
        k = self.counts[key] = self.counts.get(key, -1) + 1
        return k

    def input_key(self, key: tuple) -> tuple:
        """The key of the input of the call whose output key is ``key``."""
        return ("in", *key[1:]) if key[0] == "module" else ("opin", *key[1:])


def _eval_copy(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode. ``inplace`` flags are kept: every value is cloned when seen,
    and turning them off would change what a model that relies on an unassigned in-place
    call (``self.relu(y); return self.c2(y)``) computes."""
    return copy.deepcopy(model).eval()


class _ActivationMode(TorchFunctionMode):
    """Clones the input and output of activation functions called in a non-leaf module."""

    def __init__(self, owner: HookCapture) -> None:
        super().__init__()
        self.owner = owner

    def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                           kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        op, stack = op_name(func), self.owner.stack
        if op not in ACTIVATION_OPS or not stack or stack[-1][1]:
            return func(*args, **kwargs)
        scope = stack[-1][0]
        cap = self.owner.capture
        key = ("op", scope, op, cap.count(("op", scope, op)))
        inp = args[0] if args else kwargs.get("input")
        if isinstance(inp, torch.Tensor):
            cap.values[cap.input_key(key)] = inp.detach().clone()
        out = func(*args, **kwargs)
        cap.values[key] = clone_tree(out)
        if is_activation_op(op, args, kwargs):
            cap.activations.append(key)
        return out


class HookCapture:
    """Reference 1: hooks on every module of a deep copy, plus activation functions.

    The ``TorchFunctionMode`` is suspended inside leaf modules (no function there is a
    point): any active mode turns off fast paths such as ``nn.MultiheadAttention``'s fused
    kernel, which would change the model's values in the last bits.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = _eval_copy(model)
        self.names = {m: q for q, m in self.model.named_modules()}
        scripts = [q for q, m in self.model.named_modules() if isinstance(m, torch.jit.ScriptModule)]
        self.scripted = {m for q, m in self.model.named_modules()  # TorchScript, and inside it
                         if any(q == s or q.startswith(s + ".") for s in scripts)}
        self.stack: list[tuple[str, bool, bool, Any]] = []  # (qualname, leaf, ignored, ctx)
        self.capture = Capture()

    def _pre(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        q = self.names[module]
        if self.stack and self.stack[-1][1]:  # a module called inside a leaf: no point
            self.stack.append((q, True, True, None))
            return
        cap = self.capture
        k = cap.count(("module", q))
        inp = first_tensor(args, kwargs)
        if inp is not None:
            cap.values[("in", q, k)] = inp.detach().clone()
        ctx = torch._C.DisableTorchFunction() if is_leaf(module) else None
        if ctx is not None:
            ctx.__enter__()
        self.stack.append((q, ctx is not None, False, ctx))

    def _post(self, module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        q, _, ignored, ctx = self.stack.pop()
        if ctx is not None:
            ctx.__exit__(None, None, None)
        if ignored:
            return
        key = ("module", q, self.capture.counts[("module", q)])
        self.capture.values[key] = clone_tree(output)
        if is_activation_module(module):
            self.capture.activations.append(key)

    def run(self, x: torch.Tensor) -> Capture:
        handles = []
        try:
            for m in self.model.modules():
                if m in self.scripted:
                    continue  # TorchScript takes no hooks: its calls are no points
                handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
                handles.append(m.register_forward_hook(self._post, with_kwargs=True))
            with torch.no_grad(), _ActivationMode(self):
                self.capture.values[("input",)] = x.clone()
                self.model(x)
        finally:
            for h in handles:
                h.remove()
            for *_, ctx in reversed(self.stack):  # the forward pass raised inside a leaf
                if ctx is not None:
                    ctx.__exit__(None, None, None)
        return self.capture


class ScopeTracer(torch.fx.Tracer):
    """Remembers, for every node, the non-leaf module whose forward was traced when it was made.

    ``math`` and ``torchvision.ops`` are wrapped as single calls, as the contract's fx
    backend does (``torchvision.ops.stochastic_depth`` becomes one node).
    """

    def __init__(self) -> None:
        super().__init__(autowrap_modules=(math, torchvision.ops))
        self.current = ""
        self.scope_of: dict[torch.fx.Node, str] = {}

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf(m)

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        outer = self.current
        if not is_leaf(m):
            self.current = self.path_of_module(m)
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.current = outer

    def create_node(self, *args: Any, **kwargs: Any) -> torch.fx.Node:
        node = super().create_node(*args, **kwargs)
        self.scope_of[node] = self.current
        return node


class _CloningInterpreter(torch.fx.Interpreter):
    """Clones each node's first tensor argument before it runs and its value after."""

    def __init__(self, gm: torch.fx.GraphModule, keys: dict[torch.fx.Node, tuple],
                 capture: Capture) -> None:
        super().__init__(gm)
        self.keys = keys
        self.capture = capture

    def run_node(self, n: torch.fx.Node) -> Any:
        key = self.keys.get(n)
        if key is not None and key[0] != "input":
            args, kwargs = self.fetch_args_kwargs_from_env(n)
            inp = first_tensor(args, kwargs)
            if inp is not None:
                self.capture.values[self.capture.input_key(key)] = inp.detach().clone()
        out = super().run_node(n)
        if key is not None:
            self.capture.values[key] = clone_tree(out)
        return out


def _node_keys(gm: torch.fx.GraphModule, tracer: ScopeTracer, cap: Capture) -> dict:
    """Each node's key, by our own call counts; activation nodes go to ``cap.activations``."""
    keys: dict[torch.fx.Node, tuple] = {}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            keys[n] = ("input",)
        elif n.op == "call_module":
            keys[n] = ("module", n.target, cap.count(("module", n.target)))
            if is_activation_module(gm.get_submodule(n.target)):
                cap.activations.append(keys[n])
        elif n.op in ("call_function", "call_method"):
            scope, op = tracer.scope_of[n], op_name(n.target)
            keys[n] = ("op", scope, op, cap.count(("op", scope, op)))
            if is_activation_op(op, n.args, n.kwargs):
                cap.activations.append(keys[n])
    return keys


def fx_capture(model: nn.Module, x: torch.Tensor) -> Capture:
    """Reference 2: our own trace, run by a cloning Interpreter."""
    copy_ = _eval_copy(model)
    tracer = ScopeTracer()
    graph = tracer.trace(copy_)
    gm = torch.fx.GraphModule(copy_, graph)
    cap = Capture()
    keys = _node_keys(gm, tracer, cap)
    with torch.no_grad():
        _CloningInterpreter(gm, keys, cap).run(x)
    return cap


def capture(model: nn.Module, x: torch.Tensor, backend: str) -> Capture:
    """The reference for ``backend``: our fx Interpreter, or our hooks."""
    return fx_capture(model, x) if backend == "fx" else HookCapture(model).run(x)


# ---------------------------------------------------------------------- layouts
#: The second input size of the layout reference, as factors of the first: taller, narrower.
WIDE = (1.5, 0.75)


def layout_from_sizes(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """The layout a value's shapes (no batch axis) show at an S×S input (``a``) and at a
    1.5S × 0.75S input (``b``): the axis that grows is height, the one that shrinks is width.

    "chw"/"hwc": (C, H, W)/(H, W, C); "tokens"/"channel_tokens": the token axis first/last;
    "nomap": the shape follows the input some other way (query × key, heads × tokens);
    None: too small to tell, or no axis follows the input.
    """
    if len(a) != len(b) or len(a) not in (2, 3) or min(a) < 4:
        return None
    ratios = [y / x for x, y in zip(a, b, strict=True)]  # lengths checked above
    same = [abs(r - 1) < 1e-9 for r in ratios]
    tall = [abs(r - WIDE[0]) <= 0.2 for r in ratios]
    narrow = [abs(r - WIDE[1]) <= 0.15 for r in ratios]
    if all(same):
        return None
    if len(a) == 3:
        if same[0] and tall[1] and narrow[2]:
            return "chw"
        if tall[0] and narrow[1] and same[2]:
            return "hwc"
        return "nomap"
    if not same[0] and same[1]:
        return "tokens"
    return "channel_tokens" if same[0] and not same[1] else "nomap"


def point_key(ext: Any, name: str) -> tuple:
    """The reference key of the package's point ``name``, from its fields alone."""
    p = ext.point(name)
    if p.op == "input":
        if not p.name.endswith(":in"):
            return ("input",)
        act = ext.point(p.name[:-3])
        return ("in", act.module, act.call) if act.op == "module" else (
            "opin", act.module, act.op, act.call)
    if p.op == "module":
        return ("module", p.module, p.call)
    return ("op", p.module, p.op, p.call)
