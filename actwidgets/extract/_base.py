"""What both backends share: :class:`Point`, the error type, and leaving the model as it was."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from ._layout import Layout

__all__ = ["Point", "Record", "ExtractionError", "preserve_model_state", "tensors_in",
           "INVISIBLE_KINDS"]

#: Kinds that are not listed as layers (they still resolve by name).
INVISIBLE_KINDS = frozenset({"input", "other", "dropout", "identity", "flatten"})


class ExtractionError(RuntimeError):
    """A request the extractor cannot serve; the message says what to do instead."""


@dataclass(frozen=True)
class Point:
    """A place in the forward pass whose value can be captured.

    - ``shape``: the model's value for one image (no batch axis); ``layout`` says how it
      becomes (C, H, W) and ``map_shape`` is that (C, H, W) at the example input's size.
    - ``op``: ``"module"`` for a module call, the op's name (``"relu"``, ``"cat"``) for a
      function or method call, ``"input"`` for the model's input or an activation's input.
    - ``module``: the module called, or for an op the module it is called in; ``call``: the
      0-based count of that module's calls, or of that op's calls in that module.
    - ``pre``/``post``: the points holding this point's two stages where they differ from
      its own value (an activation's input; a conv's activation).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    index: int
    module: str | None = None
    op: str = "module"
    call: int = 0
    pre: str | None = None
    post: str | None = None
    visible: bool = True
    layout: Layout = field(default=Layout("chw"))
    map_shape: tuple[int, int, int] = (1, 1, 1)

    @property
    def channels(self) -> int:
        return int(self.map_shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.map_shape[1]), int(self.map_shape[2])


@dataclass(frozen=True)
class Record:
    """One point as a backend found it, before its layout is known (:class:`Point`'s source)."""

    name: str  #: the point's name (:mod:`._naming`)
    kind: str  #: "conv", "relu", "block", "input", ... (:mod:`._kinds`)
    op: str  #: "module", the op's name ("relu", "cat"), or "input" for an activation's input
    module: str  #: the module called, or the one the op is called in ("" at the top)
    call: int  #: 0-based count of that module's calls, or of that op's calls in that module
    shape: tuple[int, ...]  #: the value for one image (no batch axis)
    pre: str | None = None  #: the point holding its pre stage, where another one does
    post: str | None = None  #: the point holding its post stage (the activation it feeds)
    src: str | None = None  #: the point that made its (first) input, for its layout
    of: str | None = None  #: for an activation's input (``relu:in``): that activation


#: The models inside :func:`preserve_model_state` now: id -> their state before the first use.
_HELD: dict[int, _Held] = {}
_HELD_LOCK = threading.Lock()


@dataclass
class _Held:
    """A model's training flags and ``requires_grad`` before the first of its overlapping uses."""

    users: int
    modules: list[nn.Module]
    modes: list[bool]
    params: list[nn.Parameter]
    grads: list[bool]


@contextlib.contextmanager
def preserve_model_state(
    model: nn.Module, *, eval_mode: bool = True, freeze: bool = False
) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (and freeze its parameters) for a while, then restore it.

    Every submodule's ``training`` flag and every parameter's ``requires_grad`` come back as
    they were, also when the body raises. Uses that overlap (threads: a background run and
    another forward pass, in any order of entering and leaving) share one saved state: the
    first to enter saves it, the last to leave restores it.

    >>> m = nn.Sequential(nn.Linear(1, 1)).train()
    >>> with preserve_model_state(m, freeze=True):
    ...     m.training, m[0].weight.requires_grad
    (False, False)
    >>> m.training, m[0].weight.requires_grad
    (True, True)
    """
    with _HELD_LOCK:
        held = _HELD.get(id(model))
        if held is None:
            modules, params = list(model.modules()), list(model.parameters())
            held = _HELD[id(model)] = _Held(0, modules, [m.training for m in modules], params,
                                             [p.requires_grad for p in params])
        held.users += 1
    try:
        with _HELD_LOCK:
            if eval_mode and any(m.training for m in held.modules):  # eval models left alone
                model.eval()
            if freeze:
                for p in held.params:
                    p.requires_grad_(False)
        yield model
    finally:  # touch only what changed: a call on a large eval-mode model stays cheap
        with _HELD_LOCK:
            held.users -= 1
            if held.users == 0:
                del _HELD[id(model)]
                for m, mode in zip(held.modules, held.modes, strict=True):
                    if m.training != mode:
                        m.training = mode
                for p, flag in zip(held.params, held.grads, strict=True):
                    if p.requires_grad != flag:
                        p.requires_grad_(flag)


def tensors_in(value: object) -> list[torch.Tensor]:
    """Every tensor in a nest of tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_in(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_in(v)]
    return []


def capturable(value: object, batch: int) -> str | None:
    """Why ``value`` cannot be a point (None: it can): a float tensor with the batch axis first."""
    if not isinstance(value, torch.Tensor):
        return "it is not a tensor"
    if not value.is_floating_point():
        return f"it is a {value.dtype} tensor, not a floating-point one"
    if value.dim() < 1 or value.shape[0] != batch:
        return (f"its first axis ({tuple(value.shape)}) is not the batch axis: the model "
                "folds the batch with something else there (windows, heads) or keeps it on "
                "another axis (a sequence-first layout)")
    return None
