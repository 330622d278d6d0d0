"""torch's private API, in one place: each name the package reads beyond torch's public API,
why, and from which torch version it is there (each was read the same way from torch 2.1 to
2.14; the package claims 2.9 and later, what CI installs). Nothing else in the package reads a
private torch name (``tests/test_imports.py`` checks it).

>>> import torch
>>> from torch import nn
>>> t = torch.zeros(2)
>>> before = version(t); _ = t.add_(1); version(t) - before      # one in-place write
1
>>> isinstance(nn.Conv1d(1, 1, 1), CONV), has_hooks(nn.ReLU())
(True, False)
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.modules.module as _module
from torch import nn

__all__ = ["version", "disable_torch_function", "CONV", "POOL", "NORM", "DROPOUT",
           "MODULE_STORES", "HOOK_STORES", "HOOK_FLAGS", "submodules", "own_tensors",
           "has_hooks", "has_pre_hooks", "global_hooks", "global_hook_dicts", "compiled_original",
           "fake_tensor_mode", "autocast_state"]


# ---------------------------------------------------------------------- version counters
def version(t: torch.Tensor) -> int:
    """``t``'s version counter: how many in-place writes its storage has had.

    ``Tensor._version`` (torch 1.0 on; autograd's own check that a saved tensor was not
    changed) has no public accessor; the extractor tells a value written after its point
    by it. An inference tensor (``torch.inference_mode``) has none: reading it raises.
    """
    return t._version


# ---------------------------------------------------------------------- torch functions
def disable_torch_function() -> Any:
    """A context manager object (``__enter__``/``__exit__``, entered and left by hand) under
    which no ``TorchFunctionMode`` sees a call.

    ``torch._C.DisableTorchFunction``: private; from torch 2.0 on it turns off modes as well
    as subclasses' ``__torch_function__``, which is what the hooks backend needs inside a
    leaf module (MultiheadAttention's fast path refuses to run under an active mode).
    """
    return torch._C.DisableTorchFunction()


# ---------------------------------------------------------------------- module base classes
#: The base classes of torch's convolutions, poolings, norms and dropouts (``_ConvNd``,
#: ``_MaxPoolNd``, ``_AvgPoolNd``, ``_AdaptiveAvgPoolNd``, ``_AdaptiveMaxPoolNd``,
#: ``_NormBase``, ``_DropoutNd``: private names, unchanged since torch 1.0). One
#: ``isinstance`` covers every dimension and the subclasses other libraries make (timm's
#: ``Conv2dSame``, torchvision's ``FrozenBatchNorm2d`` is no ``_NormBase``).
CONV: tuple[type, ...] = (nn.modules.conv._ConvNd,)
POOL: tuple[type, ...] = (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
                          nn.modules.pooling._AdaptiveAvgPoolNd,
                          nn.modules.pooling._AdaptiveMaxPoolNd)
NORM: tuple[type, ...] = (nn.modules.batchnorm._NormBase,)
DROPOUT: tuple[type, ...] = (nn.modules.dropout._DropoutNd,)


# ---------------------------------------------------------------------- a module's dictionaries
#: The dictionaries of a module's ``__dict__`` that ``nn.Module.__setattr__`` puts its
#: parameters, buffers and submodules into (torch 1.0 on). The extractor's fingerprint
#: compares them by identity: a replaced parameter or submodule shows at once.
MODULE_STORES = ("_parameters", "_buffers", "_modules")
#: The dictionaries that hold a module's forward hooks and pre-hooks (torch 1.0 on).
HOOK_STORES = ("_forward_hooks", "_forward_pre_hooks")
#: Dictionaries that only flag entries of :data:`HOOK_STORES`: ``_with_kwargs`` (torch 2.0
#: on), ``_always_called`` (torch 2.1 on).
HOOK_FLAGS = ("_forward_hooks_with_kwargs", "_forward_pre_hooks_with_kwargs",
              "_forward_hooks_always_called")
# The global hooks of ``register_module_forward_hook`` and its pre-hook twin: module-level
# dictionaries of torch.nn.modules.module (torch 2.1 lacks ``_with_kwargs``: each is read
# with getattr, so that an older torch simply has fewer).
_GLOBAL = ("_global_forward_hooks", "_global_forward_pre_hooks",
           "_global_forward_hooks_with_kwargs", "_global_forward_hooks_always_called")


def submodules(m: nn.Module) -> dict[str, nn.Module | None]:
    """``m``'s own submodules by name (``m._modules``: ``named_children`` without its set of
    seen modules, which a walk over a large model does not need)."""
    return m._modules  # type: ignore[return-value]


def own_tensors(m: nn.Module) -> list[torch.Tensor]:
    """``m``'s own parameters and buffers (not its submodules'), None entries left out."""
    return [t for d in (m._parameters, m._buffers) for t in d.values() if t is not None]


def has_hooks(m: nn.Module) -> bool:
    """Whether ``m`` has any forward hook or pre-hook (torch has no public question for it)."""
    return bool(m._forward_hooks or m._forward_pre_hooks)


def has_pre_hooks(m: nn.Module) -> bool:
    """Whether ``m`` has a forward pre-hook."""
    return bool(m._forward_pre_hooks)


def global_hook_dicts() -> list[dict]:
    """The dictionaries of the global forward hooks this torch has."""
    return [getattr(_module, g) for g in _GLOBAL if hasattr(_module, g)]


def global_hooks() -> bool:
    """Whether a forward hook for every module (``register_module_forward_hook``) is set."""
    return any(getattr(_module, g, None) for g in _GLOBAL)


# ---------------------------------------------------------------------- torch.compile
def compiled_original(m: nn.Module) -> nn.Module | None:
    """The module that ``torch.compile`` wrapped, where ``m`` is its wrapper, else None.

    ``OptimizedModule._orig_mod`` (torch 2.0 on) is the only way back to it.
    """
    orig = getattr(m, "_orig_mod", None)
    if type(m).__name__ == "OptimizedModule" and isinstance(orig, nn.Module):
        return orig
    return None


# ---------------------------------------------------------------------- autocast
def autocast_state(device: str) -> tuple[bool, torch.dtype | None]:
    """(whether autocast is on for ``device`` ("cpu" or "cuda"), its dtype where it is).

    ``torch.is_autocast_enabled(device)`` and ``torch.get_autocast_dtype`` take a device from
    torch 2.4 on; before, each device had its own functions (public, deprecated since 2.4).
    """
    try:
        on = bool(torch.is_autocast_enabled(device))
        return on, torch.get_autocast_dtype(device) if on else None
    except TypeError:  # torch < 2.4: no device argument
        if device == "cpu":
            on = bool(torch.is_autocast_cpu_enabled())
            return on, torch.get_autocast_cpu_dtype() if on else None
        on = bool(torch.is_autocast_enabled())
        return on, torch.get_autocast_gpu_dtype() if on else None
    except (RuntimeError, AttributeError):  # a device type this build does not know
        return False, None


# ---------------------------------------------------------------------- fake tensors
def fake_tensor_mode() -> Any:
    """A ``FakeTensorMode`` that takes real tensors as inputs: shapes without arithmetic.

    ``torch._subclasses.fake_tensor`` (torch 2.0 on) is private; it is imported on first
    use (it is heavy), and a caller falls back to a real pass where it fails.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode  # heavy: only when used

    return FakeTensorMode(allow_non_fake_inputs=True)
