"""The running top-k of the atlas: per channel, the k best images seen so far.

A *table* holds, for the C channels of one point and one ranking score, k entries, best
first: each image's ``index`` in the collection, its ``max`` and ``mean`` activation, the
``cell`` (flat index y·w + x) where the maximum is, and the image's ``size`` (loaded height
and width, original height and width). Empty slots have index -1 and scores of -inf. While
a scan runs, a table is one (C, k, 8) float64 tensor (those fields side by side, all exact
in float64), so that a merge is a handful of tensor operations; :func:`to_numpy` gives the
fields as arrays of their own types.

A batch of images gives a candidate table (:func:`candidates`, one column per image);
:func:`merge` keeps the k best of a table and candidates, so memory is C × k whatever the
number of images. The order is total: a higher score first, and among equal scores the
lower index, so that merging the same images in any grouping (batches, Ray blocks) gives
the same table.

>>> import torch
>>> maps = torch.tensor([[[[1.0, 5.0]]], [[[3.0, 4.0]]], [[[0.0, 5.0]]]])   # 3 images, 1 channel
>>> index = torch.tensor([10, 11, 12])
>>> cand = candidates(maps, index, torch.zeros(3, 4, dtype=torch.int32))
>>> t = to_numpy(merge(empty(1, 2), cand, 2, "max"))
>>> t["index"].tolist(), t["max"].tolist(), t["cell"].tolist()   # 10 before 12: a tie
([[10, 12]], [[5.0, 5.0]], [[1, 1]])
>>> to_numpy(merge(empty(1, 2), cand, 2, "mean"))["index"].tolist()
[[11, 10]]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["FIELDS", "SCORES", "empty", "peaks", "relu_peaks", "candidates", "merge", "to_numpy",
           "from_numpy"]

#: What a table holds per channel and slot.
FIELDS = ("index", "max", "mean", "cell", "size")
#: The scores an atlas can rank by.
SCORES = ("max", "mean")

#: A table while a scan runs: (channels, slots, 8) float64.
Table = torch.Tensor

_COLUMN = {"index": 0, "max": 1, "mean": 2, "cell": 3}
_SIZE = slice(4, 8)
_TYPES = {"index": np.int64, "max": np.float32, "mean": np.float32, "cell": np.int32,
          "size": np.int32}
_NO_INDEX = float(2 ** 62)


def empty(channels: int, k: int, device: torch.device | str = "cpu") -> Table:
    """A table of ``channels`` × ``k`` empty slots."""
    table = torch.zeros((channels, k, 8), dtype=torch.float64, device=device)
    table[:, :, 0] = -1
    table[:, :, 1:3] = -float("inf")
    return table


def peaks(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(maximum, its first cell in row-major order) per image and channel of ``maps`` (N, C, H, W)."""
    return maps.detach().reshape(maps.shape[0], maps.shape[1], -1).max(dim=2)


def relu_peaks(peak: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The :func:`peaks` of ``relu(maps)`` from those of ``maps``, without a pass over them:
    the maximum clamped at 0, the same cell where it is positive, else the first (all zero)."""
    top, cell = peak
    positive = top > 0
    return torch.where(positive, top, torch.zeros_like(top)), torch.where(positive, cell, 0)


def candidates(maps: torch.Tensor, index: torch.Tensor, size: torch.Tensor,
               peak: tuple[torch.Tensor, torch.Tensor] | None = None) -> Table:
    """One column per image of ``maps`` (N, C, H, W): its maximum, mean and where the
    maximum is (the first such cell in row-major order), per channel.

    ``index`` (N,) are the images' positions in the collection; ``size`` (N, 4) their
    loaded and original (height, width); ``peak``: the maxima and cells where they are known
    (:func:`relu_peaks`).
    """
    n, c = int(maps.shape[0]), int(maps.shape[1])
    flat = maps.detach().reshape(n, c, -1)
    top, cell = flat.max(dim=2) if peak is None else peak
    table = torch.empty((c, n, 8), dtype=torch.float64, device=flat.device)
    table[:, :, 0] = index.to(flat.device).view(1, n)
    table[:, :, 1] = top.t()
    table[:, :, 2] = flat.float().mean(dim=2).t()
    table[:, :, 3] = cell.t()
    table[:, :, _SIZE] = size.to(flat.device).view(1, n, 4)
    return table


def _order(index: torch.Tensor, score: torch.Tensor, k: int) -> torch.Tensor:
    """Column order of the k best: score descending, then index ascending (NaN last)."""
    key = torch.where(index < 0, torch.full_like(index, _NO_INDEX), index)
    by_index = torch.argsort(key, dim=1, stable=True)
    score = torch.nan_to_num(score, nan=-float("inf")).gather(1, by_index)
    by_score = torch.argsort(score, dim=1, descending=True, stable=True)
    return by_index.gather(1, by_score)[:, :k]


def _in_order(table: Table, other: Table, col: int) -> bool:
    """Whether ``other`` comes after ``table`` (every index higher, ascending, as in a scan
    from the first image on) with finite scores: one stable sort by score then orders all."""
    index = other[:, :, 0]
    return bool(table[:, :, 0].max() < index.min() and (index[:, 1:] >= index[:, :-1]).all()
                and torch.isfinite(other[:, :, col]).all())


def merge(table: Table, other: Table, k: int, by: str) -> Table:
    """The ``k`` best entries of ``table`` and ``other`` (a table or candidates) by ``by``.

    ``table`` is in its order (score descending, then index ascending); ``other`` may be in
    any order (candidates of a batch, another table).
    """
    if by not in SCORES:
        raise ValueError(f"score must be one of {SCORES}, got {by!r}")
    col = _COLUMN[by]
    other = other.to(table.device)
    in_order = _in_order(table, other, col)
    if in_order and table.shape[1] >= k:
        # later images enter only above the k-th score (a tie goes to the earlier image)
        enters = (other[:, :, col] > table[:, k - 1:k, col]).any(dim=0)
        if not bool(enters.any()):
            return table
        other = other[:, enters]
    both = torch.cat([table, other], dim=1)
    if in_order:
        order = torch.argsort(both[:, :, col], dim=1, descending=True, stable=True)[:, :k]
    else:
        order = _order(both[:, :, 0], both[:, :, col], k)
    out = both.gather(1, order.unsqueeze(-1).expand(-1, -1, 8))
    if out.shape[1] < k:  # fewer entries than k so far: pad with empty slots
        out = torch.cat([out, empty(out.shape[0], k - out.shape[1], out.device)], dim=1)
    return out


def to_numpy(table: Table) -> dict[str, np.ndarray]:
    """A table as numpy arrays of their own types, on the CPU (``size``: (C, k, 4))."""
    data = table.detach().cpu().numpy()
    out = {f: data[:, :, col].astype(_TYPES[f]) for f, col in _COLUMN.items()}
    out["size"] = data[:, :, _SIZE].astype(np.int32)
    return out


def from_numpy(table: Mapping[str, np.ndarray], device: torch.device | str = "cpu") -> Table:
    """A table of numpy arrays (as :func:`to_numpy` gives) as a tensor on ``device``."""
    c, k = np.shape(table["index"])
    data = np.empty((c, k, 8), dtype=np.float64)
    for f, col in _COLUMN.items():
        data[:, :, col] = table[f]
    data[:, :, _SIZE] = table["size"]
    return torch.from_numpy(data).to(device)
