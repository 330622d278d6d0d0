"""What one batch of images gives a pass: sampled map cells, or maps projected onto the loadings.

Runs where the network is: in the local pass, or in a Ray actor (:mod:`.ray_pass`). A batch
is the atlas' collated batch (:func:`actwidgets.atlas.sources.collate`); the result is a dict
of plain values (numpy arrays, lists), which travels from an actor by pickling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import factor

__all__ = ["Plan", "Work", "compute", "one_blas_thread"]

_BLAS: list[Any] = []


def one_blas_thread() -> Any:
    """A context in which BLAS (the matrix products of scikit-learn's solvers) runs on one
    thread. Those products are small ((cells × C) by (C × n)); BLAS threads beside torch's
    own spin and wait on each other: on a busy 2-core machine one product took 70× longer
    with two BLAS threads than with one, and the forward passes slowed too
    (``benchmarks/concepts.py``)."""
    if not _BLAS:
        import sklearn.decomposition  # noqa: F401 - its BLAS loaded before the controller looks
        from threadpoolctl import ThreadpoolController

        _BLAS.append(ThreadpoolController())
    return _BLAS[0].limit(limits=1, user_api="blas")


@dataclass(frozen=True)
class Plan:
    """The checked arguments of one run."""

    layer: str
    stage: str
    point: str
    channels: int
    size: tuple[int, int]
    n: int
    seed: int
    positions: int
    top: int
    keep_maps: bool


@dataclass(frozen=True)
class Work:
    """A pass's job per batch: ``"sample"`` ``quota`` cells per image, or ``"project"``
    onto ``loadings``."""

    kind: str
    quota: int = 0
    loadings: np.ndarray | None = None


def values(net: Any, plan: Plan, batch: dict[str, Any]) -> tuple[Any, Any, Any] | None:
    """(index, size, values (B, C, h, w) float32) of a batch's readable images, or None."""
    ok = batch["ok"]
    if not bool(ok.any()):
        return None
    pixels, index, size = batch["pixels"][ok], batch["index"][ok], batch["size"][ok]
    x = pixels.to(net.device, net.dtype, non_blocking=True)
    out = net.extractor.run(x, [plan.point], maps=True)[plan.point].float()
    factor.check_values(out, plan.layer)
    return index, size, out


def compute(net: Any, plan: Plan, work: Work, batch: dict[str, Any]) -> dict[str, Any]:
    """One batch's part: ``count`` and ``errors`` always; ``index`` (int64) and ``size`` of
    its readable images; ``rows`` (sample: one (quota, C) array per image) or ``maps``
    (project: (B, n, h, w), a tensor on the network's device) with ``err2`` and ``norm2``."""
    part: dict[str, Any] = {"count": len(batch["index"]), "errors": list(batch["errors"]),
                            "index": np.zeros(0, np.int64), "size": np.zeros((0, 4), np.int32)}
    got = values(net, plan, batch)
    if got is None:
        return part
    index, size, acts = got
    part["index"], part["size"] = index.numpy().astype(np.int64), size.numpy()
    if work.kind == "sample":
        part["rows"] = _cells(plan, work.quota, part["index"], acts)
    else:
        x = acts.permute(0, 2, 3, 1).reshape(-1, plan.channels)
        loadings = torch.as_tensor(work.loadings, device=x.device)
        with one_blas_thread():
            coef = factor.project(x, loadings)
        part["err2"], part["norm2"] = factor.residual(x, coef, loadings)
        h, w = plan.size
        part["maps"] = coef.reshape(len(index), h, w, plan.n).permute(0, 3, 1, 2).contiguous()
    return part


def _cells(plan: Plan, quota: int, index: np.ndarray, acts: torch.Tensor) -> list[np.ndarray]:
    """``quota`` cells of each image, drawn by a generator seeded by (seed, image index), so
    that batches and workers do not change the draw; all of them, in order, when fewer."""
    cells = plan.size[0] * plan.size[1]
    flat = acts.reshape(acts.shape[0], plan.channels, cells).cpu().numpy()
    rows = []
    for i, v in zip(index.tolist(), flat, strict=True):
        pick = slice(None) if quota >= cells else np.sort(
            np.random.default_rng([plan.seed, i]).choice(cells, quota, replace=False))
        rows.append(np.ascontiguousarray(v[:, pick].T))
    return rows
