"""An in-place activation as its out-of-place twin, for the fx backend's cut-down graphs.

When a captured value is about to be overwritten by an in-place activation (a conv followed
by ``ReLU(inplace=True)``), running the activation out of place keeps the value without a
clone: one pass over memory less. Only the runner's copy of the graph changes; the user's
modules are never touched. :func:`out_of_place` gives the replacement call, or None where
there is none (then the value is cloned instead).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

__all__ = ["out_of_place"]

Call = tuple[str, Any, tuple, dict]  # (fx op, target, args, kwargs)


def _module_twin(m: nn.Module) -> tuple[Any, dict] | None:
    """The function and arguments that compute module ``m`` out of place."""
    if not getattr(m, "inplace", False):
        return None
    table: list[tuple[type, Any, dict]] = [
        (nn.ReLU, torch.relu, {}),
        (nn.ReLU6, F.hardtanh, {"min_val": 0.0, "max_val": 6.0}),
        (nn.LeakyReLU, F.leaky_relu, {"negative_slope": getattr(m, "negative_slope", 0.01)}),
        (nn.ELU, F.elu, {"alpha": getattr(m, "alpha", 1.0)}),
        (nn.CELU, F.celu, {"alpha": getattr(m, "alpha", 1.0)}),
        (nn.SELU, F.selu, {}),
        (nn.SiLU, F.silu, {}),
        (nn.Mish, F.mish, {}),
        (nn.Hardswish, F.hardswish, {}),
        (nn.Hardsigmoid, F.hardsigmoid, {}),
        (nn.Hardtanh, F.hardtanh, {"min_val": getattr(m, "min_val", -1.0),
                                   "max_val": getattr(m, "max_val", 1.0)}),
    ]
    for cls, fn, kwargs in table:
        if type(m) is cls:
            return fn, kwargs
    return None


def out_of_place(node: torch.fx.Node, module: nn.Module | None) -> Call | None:
    """The out-of-place call replacing the in-place activation ``node``, or None."""
    if node.op == "call_module" and module is not None:
        twin = _module_twin(module)
        return None if twin is None else ("call_function", twin[0], node.args[:1], twin[1])
    if node.kwargs.get("inplace") is True:
        return node.op, node.target, node.args, {**node.kwargs, "inplace": False}
    if node.op == "call_method" and str(node.target).endswith("_"):
        return "call_method", str(node.target)[:-1], node.args, dict(node.kwargs)
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        for home in (torch, F):
            if name.endswith("_") and getattr(home, name, None) is node.target:
                twin = getattr(home, name[:-1], None)
                if callable(twin):
                    return "call_function", twin, node.args, dict(node.kwargs)
    return None
