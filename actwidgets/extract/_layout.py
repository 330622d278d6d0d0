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
so the same layer reads right at another input size.

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
from collections.abc import Mapping
from dataclasses import dataclass

import torch

__all__ = ["Layout", "infer_layouts", "MAX_EXTRA_TOKENS"]

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
        stride = round(H / hh)
        if stride >= 1 and H // stride == hh and _is_grid(hh, ww, hw):
            return hh, ww
    return None


def _tokens(n: int, hw: tuple[int, int], known: set[tuple[int, int]]) -> tuple[int, bool] | None:
    """(extra tokens, whether the grid is one a map of the model has) for ``n`` tokens.

    Extra tokens count only before a grid that a map of the model has (ViT's patch
    embedding): a bare count is too easily read as some grid plus a few tokens.
    """
    found = []
    for k in range(min(MAX_EXTRA_TOKENS, n - 1) + 1):
        grid = _token_grid(n - k, hw)
        if grid is not None and (k == 0 or grid in known):
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


def _known_grids(shapes: Mapping[str, tuple[int, ...]], hw: tuple[int, int]) -> set[tuple[int, int]]:
    """The h×w grids the model's 3-D values (maps) have, read either way round."""
    known = set()
    for s in shapes.values():
        if len(s) == 3:
            if _is_grid(s[1], s[2], hw):
                known.add((s[1], s[2]))
            if _is_grid(s[0], s[1], hw):
                known.add((s[0], s[1]))
    return known


def _infer(s: tuple[int, ...], hw: tuple[int, int], known: set[tuple[int, int]],
           channels_last: bool) -> Layout:
    if len(s) <= 1:
        return Layout("vector")
    if len(s) == 2:
        tokens = _tokens(s[0], hw, known)  # (tokens, C): ViT
        flat = _token_grid(s[1], hw)  # (C, tokens): a flattened map
        if tokens is not None and (tokens[1] or flat not in known):
            return Layout("tokens", tokens[0])
        return Layout("channel_tokens") if flat is not None else Layout("matrix")
    if len(s) == 3:
        chw, hwc = _is_grid(s[1], s[2], hw), _is_grid(s[0], s[1], hw)
        return Layout("hwc") if hwc and (not chw or channels_last) else Layout("chw")
    return Layout("stacked")


def infer_layouts(
    shapes: Mapping[str, tuple[int, ...]], input_hw: tuple[int, int],
    channels_last: frozenset[str] = frozenset(),
) -> dict[str, Layout]:
    """The layout of each value from its shape (no batch axis) and the input's (H, W).

    ``channels_last`` names values known to be (H, W, C) where the shape alone is ambiguous.
    """
    hw = (int(input_hw[0]), int(input_hw[1]))
    known = _known_grids(shapes, hw)
    return {name: _infer(tuple(s), hw, known, name in channels_last) for name, s in shapes.items()}
