"""The corpus test's checks: an untouched model, and the package's values, names and stages
against a :class:`_reference.Capture`. Like ``_reference.py``, nothing here imports the
extractor's internals.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from _reference import Capture, expected_name, layout_from_sizes, point_key  # tests/ is on sys.path

# ---------------------------------------------------------------------- model state
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks",
               "_backward_pre_hooks", "_forward_hooks_with_kwargs",
               "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called")


_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks",
                 "_global_backward_hooks", "_global_backward_pre_hooks")


def snapshot(model: nn.Module) -> dict:
    """What must come back exactly after the package used ``model``."""
    return dict(
        training=[(q, m.training) for q, m in model.named_modules()],
        requires_grad=[(q, p.requires_grad) for q, p in model.named_parameters()],
        hooks=[(q, d, tuple(getattr(m, d, {}))) for q, m in model.named_modules()
               for d in _HOOK_DICTS],
        global_hooks=[tuple(getattr(torch.nn.modules.module, n, {})) for n in _GLOBAL_HOOKS],
        grad_enabled=torch.is_grad_enabled(),
        state={k: v.detach().clone() for k, v in model.state_dict().items()},
    )


def state_changes(before: dict, after: dict) -> list[str]:
    """What differs between two snapshots, in words."""
    out = [f"{what} changed" for what in ("training", "requires_grad", "hooks", "global_hooks",
                                          "grad_enabled") if before[what] != after[what]]
    for k, v in before["state"].items():
        w = after["state"].get(k)
        if w is None or w.dtype != v.dtype or not torch.equal(w, v):
            out.append(f"state_dict[{k!r}] changed")
    out += [f"state_dict gained {k!r}" for k in after["state"].keys() - before["state"].keys()]
    return out


# ---------------------------------------------------------------------- comparisons
def diff(ours: torch.Tensor, want: object) -> str | None:
    """Why ``ours`` is not bit-equal to the reference ``want`` (None: it is)."""
    if not isinstance(want, torch.Tensor):
        return f"the reference holds {type(want).__name__}, not a tensor"
    if ours.shape != want.shape or ours.dtype != want.dtype:
        return f"{tuple(ours.shape)} {ours.dtype} vs reference {tuple(want.shape)} {want.dtype}"
    if torch.equal(ours, want):
        return None
    return f"max |diff| {(ours.double() - want.double()).abs().max().item():.3g}"


def check_names(ext: Any, modules: set[str]) -> list[str]:
    """Every point is named by the rule; a ``:in`` point belongs to an activation point."""
    out = []
    for p in ext.points:
        want = expected_name(p, modules)
        if want is None and p.name.endswith(":in"):
            act = p.name[:-3]
            if act not in ext or ext.point(act).kind not in ("relu", "activation"):
                out.append(f"name {p.name!r}: {act!r} is no activation point")
        elif want is not None and p.name != want:
            out.append(f"name {p.name!r} for {p.module!r} {p.op} call {p.call}: want {want!r}")
    return out


def check_values(ext: Any, layers: list, native: dict, cap: Capture, batch: int) -> list[str]:
    """Both stages of every layer, as the package gave them, equal the reference's values."""
    out = []
    for layer in layers:
        for stage, name in (("pre", layer.pre), ("post", layer.post)):
            shape = tuple(native[name].shape)
            if shape[0] != batch or shape[1:] != ext.point(name).shape:
                out.append(f"{layer.name}/{stage} -> {name}: {shape} is not a batch of {batch} "
                           f"values of the point's shape {ext.point(name).shape}")
            key = point_key(ext, name)
            if key not in cap.values:
                out.append(f"{layer.name}/{stage} -> {name}: no reference value for {key}")
                continue
            why = diff(native[name], cap.values[key])
            if why:
                out.append(f"{layer.name}/{stage} -> {name} {key}: {why}")
    return out


def batched(value: object, batch: int) -> bool:
    """A float tensor with the batch axis first: what can be a point."""
    return (isinstance(value, torch.Tensor) and value.is_floating_point() and value.dim() > 0
            and value.shape[0] == batch)


def check_stages(ext: Any, layers: list, native: dict, cap: Capture, batch: int) -> list[str]:
    """A layer's "post" is an activation that consumed exactly the layer's "pre"."""
    out, acts = [], set(cap.activations)
    for layer in layers:
        key = point_key(ext, layer.post)
        if layer.pre == layer.post:
            if key in acts and batched(cap.values.get(cap.input_key(key)), batch):
                out.append(f"{layer.name}: an activation without a pre stage")
            continue
        if key not in acts:
            out.append(f"{layer.name}: post {layer.post!r} {key} is no activation call")
            continue
        why = diff(native[layer.pre], cap.values.get(cap.input_key(key)))
        if why:
            out.append(f"{layer.name}: pre {layer.pre!r} is not the input of {layer.post!r}: {why}")
    return out


def check_coverage(ext: Any, cap: Capture, batch: int) -> list[str]:
    """Every activation call with a batch-first float output is a point."""
    have = {point_key(ext, p.name) for p in ext.points if p.op != "input"}
    return [f"activation call {key} is no point" for key in cap.activations
            if key not in have and batched(cap.values.get(key), batch)]


def check_aliases(ext: Any, x: torch.Tensor, cap: Capture, modules: set[str]) -> list[str]:
    """A container's name gives the container's own output (one request for all of them)."""
    names = [a for a in ext.aliases if a in modules and ("module", a, 0) in cap.values]
    if not names:
        return []
    got = ext.run(x, names)
    out = []
    for name in names:
        why = diff(got[name], cap.values[("module", name, 0)])
        if why:
            out.append(f"container {name!r} (alias of {ext.aliases[name]!r}): {why}")
    return out


def check_layouts(ext: Any, cap: Capture, wide: Capture) -> list[str]:
    """Each point's layout is the one its shapes at two input sizes show (``_reference``)."""
    claims = {"chw": {"chw"}, "hwc": {"hwc"}, "tokens": {"tokens"},
              "channel_tokens": {"channel_tokens"}, "nomap": {"stacked", "matrix"}}
    out = []
    for p in ext.points:
        key = point_key(ext, p.name)
        a, b = cap.values.get(key), wide.values.get(key)
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            continue
        want = layout_from_sizes(tuple(a.shape[1:]), tuple(b.shape[1:]))
        if want is not None and p.layout.kind not in claims[want]:
            out.append(f"layout {p.name!r} {tuple(a.shape[1:])}: {p.layout.kind}, but its "
                       f"shape at another input size ({tuple(b.shape[1:])}) shows {want}")
    return out
