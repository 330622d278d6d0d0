"""Channel specs as a person types them: ``"0-7"``, ``"1,5,9"``, ``"0-3, 10"``."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["parse_channels", "MAX_CHANNELS", "CPU_PIXELS", "cpu_work_problem"]

#: At most this many channels per run (one batch: memory grows with it).
MAX_CHANNELS = 64

#: On the CPU, at most this many pixels (channels × size²) a step: Stop waits for the step
#: to end, and 16 channels at 256 px on SqueezeNet's fire9 take about a second on 2 cores.
CPU_PIXELS = 16 * 256 * 256


def cpu_work_problem(channels: int, size: int) -> str:
    """Why ``channels`` pictures of ``size`` px are too much work for a CPU step ('' if not)."""
    work = channels * size * size
    if work <= CPU_PIXELS:
        return ""
    return (f"{channels} channels at {size} px are {work:,} pixels a step: on the CPU each step "
            "would take seconds, and Stop waits for the step to end. Choose fewer channels or a "
            f"smaller size (channels × size² ≤ {CPU_PIXELS:,}), or move the network to a GPU.")

_SPEC = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_HOW = 'write them like "0-7", "1,5,9" or "0-3,10"'


def _from_text(spec: str) -> list[int]:
    if not spec.strip():
        raise ValueError(f"no channels given: {_HOW}")
    out: list[int] = []
    for part in spec.split(","):
        m = _SPEC.match(part)
        if m is None:
            raise ValueError(
                f"cannot read channels {spec!r}: {part.strip()!r} is neither a number nor a range; {_HOW}"
            )
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise ValueError(f"channel range {part.strip()!r} runs backwards; write it as {hi}-{lo}")
        if hi - lo >= 10_000:
            raise ValueError(f"channel range {part.strip()!r} is too long")
        out.extend(range(lo, hi + 1))
    return out


def parse_channels(spec: Any, count: int | None = None) -> list[int]:
    """Channels from a spec such as ``"0-7"``, ``"1,5,9"`` or ``"0-3, 10"`` (ends included).

    A list of ints is taken as it is. ``count`` (the layer's channel count) checks the range.

    >>> parse_channels("0-3, 10")
    [0, 1, 2, 3, 10]
    """
    if isinstance(spec, str):
        out = _from_text(spec)
    elif isinstance(spec, (list, tuple, range)):
        bad = [c for c in spec if isinstance(c, bool) or not isinstance(c, (int, np.integer))]
        if bad:
            raise ValueError(f"channel indices are ints, got {bad[0]!r}")
        out = [int(c) for c in spec]
    else:
        raise ValueError(f'channels are a spec such as "0-7" or "1,5,9", got {type(spec).__name__}')
    if not out:
        raise ValueError(f"no channels given: {_HOW}")
    if count is not None:
        bad = [c for c in out if not 0 <= c < count]
        if bad:
            raise ValueError(
                f"channel {bad[0]} is out of range: this layer has {count} channels, so use 0..{count - 1}"
            )
    if len(out) > MAX_CHANNELS:
        raise ValueError(f"{len(out)} channels at once is too many for one run; pick at most {MAX_CHANNELS}")
    return out
