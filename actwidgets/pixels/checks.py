"""Argument checks shared by the pixel operations, the analysis and feature visualisation:
arrays, numbers, pairs and colours.

>>> positive_int(3, "n"), number_pair((0, 1), "limits")
(3, (0.0, 1.0))
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_array", "numeric", "positive_int", "number_pair", "padding_int", "activation_maps",
           "rgb_triple"]


def as_array(a: Any, name: str = "array") -> np.ndarray:
    """``a`` as a numpy array, without a copy where possible (never to be written to).

    Torch tensors are read by duck typing (``.detach().cpu().numpy()``).

    >>> as_array([1, 2]).tolist()
    [1, 2]
    """
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "cpu") and hasattr(a, "numpy"):
        t = a.detach().cpu()
        try:
            return t.numpy()
        except TypeError:  # bfloat16 and friends have no numpy dtype
            return t.float().numpy()
    try:
        arr = np.asarray(a)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise TypeError(f"{name} must be array-like, got {type(a).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(
            f"{name} must be a numeric array, got {type(a).__name__} that numpy reads as "
            "objects; pass a numpy array or a list of numbers"
        )
    return arr


def numeric(a: Any, name: str = "array") -> np.ndarray:
    """``a`` as an array of real numbers (bool allowed), or a TypeError naming ``name``."""
    arr = as_array(a, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}; convert it with "
            "np.asarray(x, dtype=np.float32) (or take np.abs of a complex array)"
        )
    return arr


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1: a TypeError for a non-integer, a ValueError below 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def padding_int(value: Any) -> int:
    """``value`` as an int >= 0, or a ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"padding must be an integer >= 0, got {value!r}")
    return int(value)


def number_pair(value: Any, name: str) -> tuple[float, float]:
    """``value`` as two floats ``(lo, hi)``, or a TypeError naming ``name``."""
    try:
        lo, hi = value
        return float(lo), float(hi)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a pair of numbers (lo, hi), got {value!r}") from exc


def activation_maps(acts: Any, name: str = "acts", *, allow_2d: bool = False) -> np.ndarray:
    """Non-empty ``(C, H, W)`` real numbers (bool as uint8); ``allow_2d`` reads (H, W) as C = 1."""
    arr = numeric(acts, name)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if allow_2d and arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        hint = "; drop the batch axis with acts[0]" if arr.ndim == 4 else ""
        shapes = "(C, H, W) or (H, W)" if allow_2d else "(C, H, W)"
        raise ValueError(f"{name} must be {shapes}, got shape {arr.shape}{hint}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def rgb_triple(color: Any, name: str) -> tuple[int, int, int]:
    """``color`` as an ``(r, g, b)`` triple of ints in 0..255."""
    try:
        r, g, b = (int(v) for v in color)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an (r, g, b) triple of 0..255, got {color!r}") from exc
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"{name} must hold values in 0..255, got {color!r}")
    return r, g, b
