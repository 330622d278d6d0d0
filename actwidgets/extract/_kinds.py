"""What an operation is: its kind ("conv", "relu", ...), whether it is an activation, whether
it writes into its input, and whether it passes its input through unchanged.

One table serves both backends: torch.fx sees ``call_module`` / ``call_function`` /
``call_method`` nodes, the eager backend sees module calls and torch functions through a
``TorchFunctionMode``; both ask :func:`op_kind` with the same (target, args, kwargs).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .._torch_compat import CONV, DROPOUT, NORM, POOL

__all__ = ["module_kind", "op_kind", "op_name", "is_activation", "writes_input",
           "passes_through", "is_leaf_module", "ACTIVATION_OPS"]

_MODULE_KINDS: tuple[tuple[tuple[type, ...], str], ...] = (
    (CONV, "conv"),
    ((nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU), "relu"),
    ((nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Hardswish, nn.Hardsigmoid,
      nn.Sigmoid, nn.Tanh, nn.Softplus), "activation"),
    (POOL, "pool"),
    ((*NORM, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm), "norm"),
    ((nn.Linear, nn.Bilinear), "linear"),
    ((nn.Softmax, nn.LogSoftmax), "softmax"),
    (DROPOUT, "dropout"),
    ((nn.Identity,), "identity"),
    ((nn.Flatten, nn.Unflatten), "flatten"),
)

#: Activation functions and methods by name, with their kind ("relu": piecewise linear).
#: ``clamp``/``clamp_min``/``hardtanh`` count only with a lower bound of 0 (see op_kind).
ACTIVATION_OPS: dict[str, str] = {
    **dict.fromkeys(["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "rrelu",
                     "rrelu_", "clamp", "clamp_", "clamp_min", "clamp_min_", "hardtanh",
                     "hardtanh_"], "relu"),
    **dict.fromkeys(["elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish",
                     "hardswish", "hardsigmoid", "sigmoid", "sigmoid_", "tanh", "tanh_",
                     "softplus"], "activation"),
}

_BOUNDED = {"clamp", "clamp_", "clamp_min", "clamp_min_", "hardtanh", "hardtanh_"}

_OTHER_OPS: dict[str, str] = {
    "cat": "concat", "concat": "concat", "concatenate": "concat",
    "add": "add", "iadd": "add", "add_": "add",
    "max_pool2d": "pool", "avg_pool2d": "pool", "adaptive_avg_pool2d": "pool",
    "adaptive_max_pool2d": "pool", "max_pool1d": "pool", "avg_pool1d": "pool",
    "flatten": "flatten", "view": "flatten", "reshape": "flatten",
    "dropout": "dropout", "softmax": "softmax", "log_softmax": "softmax",
    "linear": "linear", "conv2d": "conv", "conv1d": "conv",
    "batch_norm": "norm", "layer_norm": "norm", "group_norm": "norm",
}

_IN_PLACE_OPERATORS = {"iadd", "isub", "imul", "itruediv", "ipow", "iand", "ior", "ixor"}

# Ops that return their input itself (eval mode): a value seen through them is unchanged.
_PASS_THROUGH_OPS = {"dropout", "contiguous", "alpha_dropout", "feature_alpha_dropout",
                     "dropout2d", "dropout1d", "dropout3d"}


def op_name(target: Any) -> str:
    """The name of a function or method target: ``F.relu`` → "relu", ``x.__add__`` → "add"."""
    if isinstance(target, str):
        name = target
    else:
        name = getattr(target, "__name__", None) or str(target)
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name.startswith("r") and name[1:] in ("add", "mul", "sub", "truediv", "matmul"):
            name = name[1:]  # 1 + x is x.__radd__(1): fx records operator.add
    return name


def _lower_bound(name: str, args: tuple, kwargs: dict) -> Any:
    if name.startswith("hardtanh"):
        return kwargs.get("min_val", args[1] if len(args) > 1 else -1.0)
    return kwargs.get("min", args[1] if len(args) > 1 else None)


def op_kind(name: str, args: tuple = (), kwargs: dict | None = None) -> str:
    """The kind of a function or method call named ``name`` with these arguments."""
    kwargs = kwargs or {}
    kind = ACTIVATION_OPS.get(name)
    if kind is not None:
        if name in _BOUNDED:
            low = _lower_bound(name, args, kwargs)
            if not isinstance(low, (int, float)) or isinstance(low, bool) or low != 0:
                return "other"  # clamp(-1, 1) is no activation
        return kind
    return _OTHER_OPS.get(name, "other")


def module_kind(module: nn.Module) -> str:
    """The kind of a module ("conv", "relu", ...), or "other".

    >>> module_kind(nn.Conv2d(1, 1, 1)), module_kind(nn.GELU()), module_kind(nn.Hardtanh(0, 6))
    ('conv', 'activation', 'relu')
    """
    for types, kind in _MODULE_KINDS:
        if isinstance(module, types):
            if isinstance(module, nn.Hardtanh) and not isinstance(module, nn.ReLU6):
                return "relu" if module.min_val == 0 else "other"
            return kind
    if isinstance(module, nn.Hardtanh):
        return "relu" if module.min_val == 0 else "other"
    return "other"


def is_activation(kind: str) -> bool:
    return kind in ("relu", "activation")


def writes_input(name: str, kwargs: dict | None = None, module: nn.Module | None = None) -> bool:
    """Whether a call writes into its first argument (``relu_``, ``inplace=True``, ``x.add_``)."""
    if module is not None:
        return getattr(module, "inplace", False) is True
    if (kwargs or {}).get("inplace") is True:
        return True
    return (name.endswith("_") and not name.endswith("__")) or name in _IN_PLACE_OPERATORS


def passes_through(kind: str, name: str = "") -> bool:
    """Whether an op returns its input unchanged in eval mode (identity, dropout)."""
    return kind in ("dropout", "identity") or name in _PASS_THROUGH_OPS


def is_leaf_module(module: nn.Module) -> bool:
    """Modules both backends treat as one operation.

    torch's own modules but not its containers (torch.fx's default rule); a subclass of one
    of torch's layers that holds no modules of its own (timm's ``LayerNorm``, ``Conv2dSame``),
    which is still that layer; and torchvision's ops that fx cannot trace into. A subclass
    that holds modules (timm's ``BatchNormAct2d``: norm, then its activation) is looked into.
    """
    if isinstance(module, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    top = type(module).__module__
    if top.startswith(("torch.nn", "torch.ao.nn")):
        return True
    if module_kind(module) != "other" and next(module.children(), None) is None:
        return True
    return type(module).__name__ in ("FrozenBatchNorm2d", "MultiScaleRoIAlign") and top.startswith(
        "torchvision.ops")
