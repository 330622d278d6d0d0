"""Point names, one rule for both backends.

- A module call is named by the module's qualified name (``features.3.squeeze``); its k-th
  call (k ≥ 1) by ``name_k`` (``relu``, ``relu_1``).
- A function or method call is named by the module it is called in and the op's name
  (``features.3.cat``, ``conv1.relu``; top level: ``add``), its k-th call in that module by
  ``name_k``.
- An activation's input, where no other point holds it, is ``name:in``.

A name never collides with a module's: an op named like a sibling module gets ``_fn``
(``relu_fn``), and a repeat that would hit a module name gets ``#k`` instead of ``_k``.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["module_call_name", "function_call_name", "input_name", "INPUT_SUFFIX"]

INPUT_SUFFIX = ":in"


def _numbered(base: str, call: int, modules: Collection[str]) -> str:
    if call == 0:
        return base
    name = f"{base}_{call}"
    return f"{base}#{call}" if name in modules else name


def module_call_name(qualname: str, call: int, modules: Collection[str]) -> str:
    """The point name of the ``call``-th call (0-based) of the module ``qualname``.

    >>> module_call_name("conv_1", 0, {"conv_1", "conv_2"}), module_call_name("relu", 1, {"relu"})
    ('conv_1', 'relu_1')
    >>> module_call_name("relu", 1, {"relu", "relu_1"})
    'relu#1'
    """
    return _numbered(qualname, call, modules)


def function_call_name(scope: str, op: str, call: int, modules: Collection[str]) -> str:
    """The point name of the ``call``-th call of op ``op`` inside module ``scope``.

    >>> function_call_name("features.3", "cat", 0, set()), function_call_name("", "add", 2, set())
    ('features.3.cat', 'add_2')
    >>> function_call_name("block", "relu", 0, {"block", "block.relu"})
    'block.relu_fn'
    """
    base = f"{scope}.{op}" if scope else op
    if base in modules:
        base += "_fn"
    return _numbered(base, call, modules)


def input_name(point: str) -> str:
    """The name of the point holding the input of the activation ``point``."""
    return point + INPUT_SUFFIX
