"""Receptive fields read from the graph, where every op on the way is a known one.

For a network traced by torch.fx (the extractor's ``fx`` backend), one forward pass of one
image follows every node and computes, per map row and per map column, the span of input
pixels it depends on: convolutions and poolings (kernel, stride, padding, dilation,
``ceil_mode``, adaptive pools) widen the spans of the cells they read; point-wise ops
(activations, batch norm in eval mode, dropout, local response norm, sums, products,
concatenation along channels, broadcasting a 1×1 map) unite the spans of their inputs.
Any other op (a linear layer, a reshape, attention, padding by reflection) makes the spans
of what follows it unknown, and :mod:`.receptive` measures those layers by back-propagation
instead. For the networks this covers, the spans are the ones the measurement converges to
(every path open), without a backward pass: ``tests/test_atlas_files.py`` checks them
against the measurement on SqueezeNet, GoogLeNet, ResNet-18 and hand-written cases.

>>> import torch.nn as nn, actwidgets as aw
>>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2)), input_size=16)
>>> rows, cols = spans(net, "2")
>>> rows[:3].tolist(), cols.shape
([[0, 4], [2, 6], [4, 8]], (7, 2))
"""

from __future__ import annotations

import math
import operator
import weakref
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._torch_compat import fake_tensor_mode
from ..extract import preserve_model_state
from ..model.network import Network

__all__ = ["spans"]

#: Spans per model and input size: {model: {(H, W): {node: (rows, cols) | None}}}.
_CACHE: weakref.WeakKeyDictionary[nn.Module, dict] = weakref.WeakKeyDictionary()
_CONST = "const"  # a value that depends on no input pixel (weights, sizes)

_POINTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Softplus, nn.Hardtanh,
    nn.BatchNorm2d, nn.Dropout, nn.Dropout2d, nn.Identity, nn.LocalResponseNorm,
)
_POINTWISE_FUNCTIONS = {
    operator.add, operator.mul, operator.sub, operator.truediv, operator.iadd, operator.imul,
    torch.add, torch.mul, torch.sub, torch.relu, torch.sigmoid, torch.tanh, F.relu, F.relu6,
    F.leaky_relu, F.hardtanh, F.silu, F.gelu, F.dropout, F.hardswish, F.hardsigmoid, F.elu,
    torch.clamp, F.batch_norm,
}
_POINTWISE_METHODS = {"relu", "relu_", "add", "add_", "mul", "mul_", "sub", "sigmoid", "tanh",
                      "clamp", "clamp_", "clamp_min", "clamp_min_", "contiguous", "div", "div_"}


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _window(prev: np.ndarray, n_out: int, k: int, s: int, p: int, d: int) -> np.ndarray | None:
    """Spans of a conv or pool's output cells along one axis, from its input cells' spans."""
    n_in, out = len(prev), np.empty((n_out, 2), np.int64)
    for i in range(n_out):
        taps = [i * s - p + d * j for j in range(k)]
        taps = [t for t in taps if 0 <= t < n_in]
        if not taps:
            return None  # a cell that sees only padding: the measurement decides
        out[i] = prev[taps, 0].min(), prev[taps, 1].max()
    return out


def _adaptive(prev: np.ndarray, n_out: int) -> np.ndarray:
    n_in = len(prev)
    out = np.empty((n_out, 2), np.int64)
    for i in range(n_out):
        a, b = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        out[i] = prev[a:b, 0].min(), prev[a:b, 1].max()
    return out


def _windowed(src: tuple, hw: tuple[int, int], k, s, p, d) -> tuple | None:
    k, s, p, d = _pair(k), _pair(s if s else k), _pair(p), _pair(d)
    rows = _window(src[0], hw[0], k[0], s[0], p[0], d[0])
    cols = _window(src[1], hw[1], k[1], s[1], p[1], d[1])
    return None if rows is None or cols is None else (rows, cols)


def _conv_padding(m: Any, weight_hw: tuple[int, int], dilation: Any) -> tuple[int, int] | None:
    pad = m if not isinstance(m, nn.Module) else m.padding
    if isinstance(pad, str):
        if pad == "valid":
            return 0, 0
        d = _pair(dilation)
        return (d[0] * (weight_hw[0] - 1)) // 2, (d[1] * (weight_hw[1] - 1)) // 2
    return _pair(pad)


def _module_spans(m: nn.Module, src: tuple, hw: tuple[int, int]) -> tuple | None:
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros":
            return None
        return _windowed(src, hw, m.kernel_size, m.stride,
                         _conv_padding(m, m.kernel_size, m.dilation), m.dilation)
    if isinstance(m, nn.MaxPool2d):
        return _windowed(src, hw, m.kernel_size, m.stride, m.padding, m.dilation)
    if isinstance(m, nn.AvgPool2d):
        return _windowed(src, hw, m.kernel_size, m.stride, m.padding, 1)
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _adaptive(src[0], hw[0]), _adaptive(src[1], hw[1])
    return None


def _function_spans(fn: Any, args: tuple, kwargs: dict, src: tuple, hw: tuple) -> tuple | None:
    """Spans after a convolution or pooling function (its arguments as evaluated)."""
    def arg(i: int, name: str, default: Any) -> Any:
        return args[i] if len(args) > i else kwargs.get(name, default)

    if fn is F.conv2d:
        weight_hw = tuple(arg(1, "weight", None).shape[-2:])
        dil = arg(5, "dilation", 1)
        return _windowed(src, hw, weight_hw, arg(3, "stride", 1),
                         _conv_padding(arg(4, "padding", 0), weight_hw, dil), dil)
    if fn is F.max_pool2d:
        return _windowed(src, hw, arg(1, "kernel_size", 1), arg(2, "stride", None),
                         arg(3, "padding", 0), arg(4, "dilation", 1))
    if fn is F.avg_pool2d:
        return _windowed(src, hw, arg(1, "kernel_size", 1), arg(2, "stride", None),
                         arg(3, "padding", 0), 1)
    if fn in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        return _adaptive(src[0], hw[0]), _adaptive(src[1], hw[1])
    return None


def _united(known: list[tuple], hw: tuple[int, int]) -> tuple | None:
    """Point-wise: each output cell unites its input cells' spans (a 1-cell axis broadcasts)."""
    out = []
    for axis, n in enumerate(hw):
        parts = []
        for spans_ in known:
            a = spans_[axis]
            if len(a) == 1 and n != 1:
                a = np.repeat(a, n, axis=0)
            if len(a) != n:
                return None
            parts.append(a)
        out.append(np.stack([np.min([p[:, 0] for p in parts], 0), np.max([p[:, 1] for p in parts], 0)], 1))
    return out[0], out[1]


class _Follower(torch.fx.Interpreter):
    """Runs the graph once and keeps, per node, its spans (None: unknown)."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        super().__init__(gm)
        self.spans: dict[torch.fx.Node, Any] = {}

    def run_node(self, n: torch.fx.Node) -> Any:
        value = super().run_node(n)
        self.spans[n] = self._spans_of(n, value)
        return value

    def _spans_of(self, n: torch.fx.Node, value: Any) -> Any:
        if n.op == "placeholder":
            h, w = value.shape[-2:]
            return (np.stack([np.arange(h), np.arange(h) + 1], 1),
                    np.stack([np.arange(w), np.arange(w) + 1], 1))
        if n.op in ("get_attr", "output"):
            return _CONST
        inputs = [self.spans[a] for a in n.all_input_nodes]
        if all(s is _CONST for s in inputs):
            return _CONST
        if not isinstance(value, torch.Tensor) or value.dim() != 4 or any(s is None for s in inputs):
            return None
        known = [s for s in inputs if s is not _CONST]
        hw = (int(value.shape[-2]), int(value.shape[-1]))
        if n.op == "call_module":
            m = self.module.get_submodule(n.target)
            if isinstance(m, _POINTWISE_MODULES):
                return _united(known, hw)
            return _module_spans(m, known[0], hw) if len(known) == 1 else None
        if n.op == "call_method":
            return _united(known, hw) if n.target in _POINTWISE_METHODS else None
        if n.target in _POINTWISE_FUNCTIONS:
            return _united(known, hw)
        if n.target is torch.cat:
            dim = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else 0)
            return _united(known, hw) if dim in (1, -3) else None
        if len(known) != 1:
            return None
        args, kwargs = self.fetch_args_kwargs_from_env(n)
        return _function_spans(n.target, args, kwargs, known[0], hw)


def _all_spans(net: Network) -> dict[str, Any]:
    """{point name: spans or None} for every point of an fx-traced network (cached)."""
    size = tuple(net.input_size)
    per_model = _CACHE.setdefault(net.model, {})
    if size not in per_model:
        traced = net.extractor.traced
        if traced is None:  # no graph: every layer is measured
            return {}
        graph, nodes = traced
        gm = torch.fx.GraphModule(net.model, graph)
        follower = _Follower(gm)
        x = torch.zeros(1, net.preprocess.channels, *size, device=net.device, dtype=net.dtype)
        with preserve_model_state(net.model, freeze=True), torch.no_grad():
            try:  # shapes without arithmetic: the spans need no values
                with fake_tensor_mode() as mode:
                    follower.run(mode.from_tensor(x))
            except Exception:  # noqa: BLE001 - an op fake tensors cannot run: a real pass
                follower.spans.clear()
                follower.run(x)
        per_model[size] = {name: follower.spans.get(node) for name, node in nodes.items()}
    return per_model[size]


def spans(net: Network, point: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(rows, cols) of ``point``'s map cells read from the graph, or None where an op on the
    way is unknown (or the network is not fx-traced): then measure."""
    if getattr(net.extractor, "backend", None) != "fx":
        return None
    info = net.extractor.point(point)
    if info.layout.kind != "chw":
        return None
    try:
        table = _all_spans(net)
    except Exception:  # noqa: BLE001 - any surprise in the graph: measure instead
        return None
    name = point[:-3] if point.endswith(":in") and point not in table else point
    found = table.get(name)
    if not isinstance(found, tuple) or (len(found[0]), len(found[1])) != info.size:
        return None
    return found[0].copy(), found[1].copy()
