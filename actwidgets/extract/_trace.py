"""Tracing for the fx backend: the tracer (scopes, container outputs, autocast), what a trace
cannot see (:func:`unseen`), and the profiling pass (:class:`Profiler`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.fx
from torch import nn

from .._torch_compat import autocast_state, global_hooks, has_hooks, has_pre_hooks, version
from ._base import tensors_in
from ._kinds import is_activation, is_leaf_module, module_kind
from ._staleness import walk

__all__ = ["Profiler", "Tracer", "unseen"]


class Tracer(torch.fx.Tracer):
    """Records the module each op is called in, and each container call's output node."""

    def __init__(self) -> None:
        modules: tuple[Any, ...] = (math,)
        try:
            import torchvision.ops

            modules += (torchvision.ops,)
        except ImportError:  # pragma: no cover - torchvision is a dependency
            pass
        super().__init__(autowrap_modules=modules)
        self.current_scope = ""
        self.scope_of: dict[torch.fx.Node, str] = {}
        self.container_out: list[tuple[str, torch.fx.Node]] = []
        self.autocast_at_start = _autocast_state()
        self.autocast: str | None = None  # the scope where forward turned autocast on or off

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return is_leaf_module(m)

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        qualname = self.path_of_module(m)
        if self.is_leaf_module(m, qualname):
            return self.create_proxy("call_module", qualname, args, kwargs)
        outer, self.current_scope = self.current_scope, qualname
        try:
            out = forward(*args, **kwargs)
        finally:
            self.current_scope = outer
        if isinstance(out, torch.fx.Proxy):
            self.container_out.append((qualname, out.node))
        return out

    def create_proxy(self, kind: str, target: Any, args: Any, kwargs: Any, *rest: Any,
                     **more: Any) -> torch.fx.Proxy:
        proxy = super().create_proxy(kind, target, args, kwargs, *rest, **more)
        self.scope_of[proxy.node] = self.current_scope
        if self.autocast is None and _autocast_state() != self.autocast_at_start:
            self.autocast = self.current_scope
        return proxy


def _autocast_state() -> tuple:
    """Whether autocast is on, and its dtype, for the device types torch knows everywhere."""
    return tuple(autocast_state(device) for device in ("cpu", "cuda"))


def unseen(model: nn.Module) -> str | None:
    """Why a traced graph of ``model`` would not do what its forward pass does (None: it would).

    The graph inlines every non-leaf module, so their hooks would never run; a pre-hook on
    an activation changes its input where the graph cannot see it.
    """
    if global_hooks():
        return ("a global forward hook (register_module_forward_hook) is set, which the traced "
                "graph would not call inside the modules it inlines")
    for name, m in walk(model):
        if not has_hooks(m):
            continue
        where = repr(name) if name else "the model itself"
        if not is_leaf_module(m) or not name:
            return f"{where} has a forward hook or pre-hook, which the traced graph would not call"
        if has_pre_hooks(m) and is_activation(module_kind(m)):
            return (f"{where} has a forward pre-hook, which may change the activation's input "
                    "where the graph cannot see it")
    return None


def _key(t: torch.Tensor) -> int:
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensors without storage
        return 0


class Profiler(torch.fx.Interpreter):
    """Runs the graph once, keeping every value alive, and records who writes into what."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.values: dict[torch.fx.Node, Any] = {}
        self.keys: dict[torch.fx.Node, set[int]] = {}
        self.writes: dict[torch.fx.Node, set[int]] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        ins = tensors_in((args, kwargs))
        before = [version(t) for t in ins]
        out = getattr(self, n.op)(n.target, args, kwargs)
        self.writes[n] = {_key(t) for t, v in zip(ins, before, strict=True) if version(t) != v} - {0}
        self.keys[n] = {_key(t) for t in tensors_in(out)} - {0}
        self.values[n] = out
        return out
