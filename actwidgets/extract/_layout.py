"""How a captured value is laid out, and how it becomes channels × height × width.

Every value leaves the package as (C, H, W) (with a batch axis first inside the package):

==================  ==============================  =======================================
layout              the model's value (per image)   becomes
==================  ==============================  =======================================
``chw``             (C, H, W): convolutions         itself
``hwc``             (H, W, C): ConvNeXt, Swin       (C, H, W)
``tokens``          (k + h·w, C): ViT, DeiT, Swin   (C, h, w); the k leading class,
                                                    distillation or register tokens apart
``channel_tokens``  (C, h·w): a flattened map       (C, h, w)
``vector``          (C,): pooled, linear layers     (C, 1, 1)
``matrix``          (a, b): anything else 2-D       (1, a, b)
``stacked``         (..., a, b): 4-D and more       (prod(...), a, b)
==================  ==============================  =======================================

A token grid h×w is found from the token count and the input's aspect ratio, at each call,
so the same layer reads right at another input size; a count that is a grid of one of the
model's convolutions after a few leading tokens (PiT's 1 + 27×27 at 224 pixels) is that grid.

Where the shape alone cannot tell (H == W == C: ConvNeXt-T at 384 pixels), the module
decides (:func:`layout_hints`): a Linear or LayerNorm works on the last axis (channels last),
a convolution, BatchNorm or pooling on (C, H, W), timm's ``output_fmt`` and a ``Permute``
module's ``dims`` say it outright, a permute flips its input's layout, and anything else
keeps its input's. A 3-D value is a map only where its grid is one of the model's (a
convolution's) or could be; one whose axes are a token count (CaiT's query × key × head
attention) is ``stacked``.

>>> import torch
>>> lay = infer_layouts({"patches": (768, 14, 14), "vit": (197, 768), "convnext": (56, 56, 96)},
...                     (224, 224))
>>> lay["vit"], lay["convnext"]
(Layout(kind='tokens', extra=1), Layout(kind='hwc', extra=0))
>>> tuple(lay["vit"].to_map(torch.zeros(2, 197, 768), (224, 224)).shape)
(2, 768, 14, 14)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .._torch_compat import CONV, NORM, POOL

if TYPE_CHECKING:  # _base imports Layout from here: the record type only for annotations
    from ._base import Record

__all__ = ["Layout", "Hint", "LayoutHints", "infer_layouts", "layout_hints", "MAX_EXTRA_TOKENS"]

#: At most this many class, distillation and register tokens precede a token grid.
MAX_EXTRA_TOKENS = 8


def _is_grid(h: int, w: int, hw: tuple[int, int]) -> bool:
    """Whether an h×w map can be the input's H×W seen at some stride."""
    H, W = hw
    if not (1 <= h <= H and 1 <= w <= W):
        return False
    sh, sw = H / h, W / w  # the strides: equal up to rounding
    return abs(sh - sw) <= 0.1 * max(sh, sw) or abs(w - h * W / H) <= 0.5


def _token_grid(n: int, hw: tuple[int, int]) -> tuple[int, int] | None:
    """The h×w patch grid of ``n`` tokens for an H×W input, or None."""
    if n < 1:
        return None
    H, W = hw
    h = max(1, round(math.sqrt(n * H / W)))
    for hh in (h - 1, h, h + 1):
        if hh < 1 or n % hh:
            continue
        ww = n // hh
        if _is_grid(hh, ww, hw):
            return hh, ww
    return None


def _tokens(n: int, hw: tuple[int, int], known: set[tuple[int, int]]) -> tuple[int, bool] | None:
    """(extra tokens, whether the grid is one a map of the model has) for ``n`` tokens.

    Extra tokens count only before a grid that a map of the model has (ViT's patch
    embedding): a bare count is too easily read as some grid plus a few tokens.
    """
    found = []
    areas = {h * w for h, w in known}
    for k in range(min(MAX_EXTRA_TOKENS, n - 1) + 1):
        grid = _token_grid(n - k, hw)
        if grid is not None and (n - k) in areas:
            found.append((False, k))
        elif grid is not None and k == 0:
            found.append((grid not in known, k))
    if not found:
        return None
    unknown, k = min(found)
    return k, not unknown


@dataclass(frozen=True)
class Layout:
    """How one point's value is laid out (see the module's table)."""

    kind: str
    extra: int = 0

    def grid(self, shape: tuple[int, ...], input_hw: tuple[int, int]) -> tuple[int, int]:
        """The (h, w) of a token layout for a value of ``shape`` (no batch axis)."""
        n = shape[0] - self.extra if self.kind == "tokens" else shape[-1]
        grid = _token_grid(n, input_hw)
        if grid is None:
            raise ValueError(f"{n} tokens form no grid for a {input_hw[0]}×{input_hw[1]} input")
        return grid

    def map_shape(self, shape: tuple[int, ...], input_hw: tuple[int, int]) -> tuple[int, int, int]:
        """The (C, H, W) shape a value of ``shape`` (no batch axis) becomes."""
        if self.kind == "chw":
            return shape[0], shape[1], shape[2]
        if self.kind == "hwc":
            return shape[2], shape[0], shape[1]
        if self.kind in ("tokens", "channel_tokens"):
            h, w = self.grid(shape, input_hw)
            return (shape[1] if self.kind == "tokens" else shape[0]), h, w
        if self.kind == "vector":
            return (shape[0] if shape else 1), 1, 1
        if self.kind == "matrix":
            return 1, shape[0], shape[1]
        return math.prod(shape[:-2]), shape[-2], shape[-1]

    def to_map(self, value: torch.Tensor, input_hw: tuple[int, int]) -> torch.Tensor:
        """``value`` (N, ...) as (N, C, H, W); a view where the layout allows."""
        n, shape = value.shape[0], tuple(value.shape[1:])
        c, h, w = self.map_shape(shape, input_hw)
        if self.kind == "hwc":
            return value.permute(0, 3, 1, 2)
        if self.kind == "tokens":
            return value[:, self.extra:].transpose(1, 2).reshape(n, c, h, w)
        return value.reshape(n, c, h, w)

    def extra_tokens(self, value: torch.Tensor) -> torch.Tensor:
        """The leading class/distillation/register tokens of ``value`` (N, k, C)."""
        if self.kind != "tokens" or not self.extra:
            raise ValueError("this layer has no class, distillation or register tokens")
        return value[:, : self.extra]

    def describe(self) -> str:
        """A few words for a caption: ``tokens (1 extra)``."""
        return f"tokens ({self.extra} extra)" if self.kind == "tokens" and self.extra else self.kind




@dataclass(frozen=True)
class Hint:
    """What a point's module says of its layout: ``fixed`` ("chw" or "hwc"), else the layout
    of the point ``src`` (its input) where that is a map, swapped when ``flip`` (a permute)."""

    fixed: str | None = None
    src: str | None = None
    flip: bool = False


@dataclass(frozen=True)
class LayoutHints:
    """Per-point hints, the grids of the model's convolutions and pools (surely maps), and
    the layout a model declares for itself (timm's ``output_fmt``)."""

    points: Mapping[str, Hint]
    conv_grids: frozenset[tuple[int, int]] = frozenset()
    default: str = "chw"


_CHW_MODULES = (*CONV, *NORM, nn.GroupNorm, *POOL)
_CHW_OPS = {"conv2d", "batch_norm", "group_norm", "max_pool2d", "avg_pool2d",
            "adaptive_avg_pool2d", "adaptive_max_pool2d", "interpolate"}
_LAST_AXIS_OPS = {"linear", "layer_norm"}
_PERMUTE_OPS = {"permute", "transpose", "movedim", "moveaxis", "swapaxes", "swapdims"}
_PERMUTES = {(0, 2, 3, 1): "hwc", (0, 3, 1, 2): "chw"}


def _declared(module: object) -> str | None:
    """The layout timm's ``output_fmt`` (a ``Format`` or its string) declares."""
    fmt = getattr(module, "output_fmt", None)
    fmt = getattr(fmt, "value", fmt)
    return {"NHWC": "hwc", "NCHW": "chw"}.get(fmt) if isinstance(fmt, str) else None


def _module_hint(m: nn.Module) -> str | None:
    """The layout module ``m``'s output has, where the module says so."""
    declared = _declared(m)
    if declared is not None:
        return declared
    dims = getattr(m, "dims", None)
    if type(m).__name__ == "Permute" and isinstance(dims, (list, tuple)):
        return _PERMUTES.get(tuple(dims))
    if isinstance(m, nn.LayerNorm):  # LayerNorm2d subclasses normalise over channels first
        if "2d" in type(m).__name__.lower():
            return "chw"
        return "hwc" if len(m.normalized_shape) == 1 else None
    if isinstance(m, nn.Linear):
        return "hwc"
    return "chw" if isinstance(m, _CHW_MODULES) else None


def layout_hints(model: nn.Module, records: Sequence[Record]) -> LayoutHints:
    """Hints from each record's module or op (its ``module``, ``op``, ``kind``, ``shape``,
    and ``src``: the point holding its first input), for :func:`infer_layouts`."""
    named = dict(model.named_modules())
    points, grids = {}, set()
    for r in records:
        fixed = None
        if r.op == "module":
            module = named.get(r.module)
            fixed = _module_hint(module) if module is not None else None
        elif r.op in _LAST_AXIS_OPS:
            fixed = "hwc"
        elif r.op in _CHW_OPS:
            fixed = "chw"
        points[r.name] = Hint(fixed, r.src, r.op in _PERMUTE_OPS)
        if r.kind in ("conv", "pool") and fixed == "chw" and len(r.shape) == 3:
            grids.add(tuple(r.shape[1:]))
    return LayoutHints(points, frozenset(grids), _declared(model) or "chw")


def _map_reading(h: int, w: int, hw: tuple[int, int], hints: LayoutHints) -> bool:
    """Whether an h×w plane can be a map: a convolution's grid, or (where the model has
    convolutions) a grid whose sides are theirs halved or doubled (Swin's patch merging)
    and no token count of one (CaiT's attention is query × key: 196 = 14·14; EdgeNeXt's
    12×12 is channels × channels)."""
    grids = hints.conv_grids
    if (h, w) in grids:
        return True
    if not _is_grid(h, w, hw):
        return False
    if not grids:
        return True
    sides = {a for g in grids for a in g}
    areas = {a * b for a, b in grids} - sides

    def derived(n: int) -> bool:
        return n not in areas and any(abs(n - c * 2.0 ** e) <= 1 for c in sides for e in range(-6, 7))
    return derived(h) and derived(w)


def _known_grids(shapes: Mapping[str, tuple[int, ...]], hw: tuple[int, int],
                 hints: LayoutHints) -> set[tuple[int, int]]:
    """The h×w grids of the model's maps: 3-D values that read as maps, either way round."""
    known = set(hints.conv_grids)
    for s in shapes.values():
        if len(s) == 3:
            if _map_reading(s[1], s[2], hw, hints):
                known.add((s[1], s[2]))
            if _map_reading(s[0], s[1], hw, hints):
                known.add((s[0], s[1]))
    return known


def _resolve(name: str, s: tuple[int, ...], hints: LayoutHints,
             done: Mapping[str, tuple[tuple[int, ...], Layout]]) -> str:
    """chw or hwc for a value whose shape reads both ways, from its module or its input."""
    hint = hints.points.get(name, Hint())
    if hint.fixed is not None:
        return hint.fixed
    src = done.get(hint.src) if hint.src is not None else None
    if src is not None and len(src[0]) == 3 and src[1].kind in ("chw", "hwc"):  # also a pad, a slice
        kind = src[1].kind
        return ({"chw": "hwc", "hwc": "chw"}[kind]) if hint.flip else kind
    return hints.default


def _infer(name: str, s: tuple[int, ...], hw: tuple[int, int], known: set[tuple[int, int]],
           hints: LayoutHints, done: Mapping[str, tuple[tuple[int, ...], Layout]]) -> Layout:
    if len(s) <= 1:
        return Layout("vector")
    if len(s) == 2:
        tokens = _tokens(s[0], hw, known)  # (tokens, C): ViT
        flat = _token_grid(s[1], hw)  # (C, tokens): a flattened map
        last_is_features = hints.points.get(name, Hint()).fixed == "hwc"  # a Linear's output
        if tokens is not None and tokens[1] and not last_is_features and \
                _tokens(s[1], hw, known) == tokens:
            return Layout("matrix")  # query × key: tokens on both axes
        if tokens is not None and (tokens[1] or flat not in known):
            return Layout("tokens", tokens[0])
        return Layout("channel_tokens") if flat is not None else Layout("matrix")
    if len(s) == 3:
        chw, hwc = _map_reading(s[1], s[2], hw, hints), _map_reading(s[0], s[1], hw, hints)
        if chw and hwc:
            return Layout(_resolve(name, s, hints, done))
        return Layout("hwc") if hwc else Layout("chw") if chw else Layout("stacked")
    return Layout("stacked")


def infer_layouts(
    shapes: Mapping[str, tuple[int, ...]], input_hw: tuple[int, int],
    hints: LayoutHints | None = None,
) -> dict[str, Layout]:
    """The layout of each value from its shape (no batch axis) and the input's (H, W).

    ``shapes`` in forward order; ``hints`` (:func:`layout_hints`) decide where the shape
    alone cannot (without them, such a value is read as (C, H, W)).

    >>> hints = LayoutHints({"fc2": Hint("hwc"), "act": Hint(src="fc2")})
    >>> lay = infer_layouts({"fc2": (96, 96, 96), "act": (96, 96, 96)}, (384, 384), hints)
    >>> lay["fc2"].kind, lay["act"].kind
    ('hwc', 'hwc')
    """
    hw = (int(input_hw[0]), int(input_hw[1]))
    hints = hints or LayoutHints({})
    known = _known_grids(shapes, hw, hints)
    done: dict[str, tuple[tuple[int, ...], Layout]] = {}
    for name, s in shapes.items():
        done[name] = (tuple(s), _infer(name, tuple(s), hw, known, hints, done))
    return {name: lay for name, (_, lay) in done.items()}
