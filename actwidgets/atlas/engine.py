"""What the atlas' scans share (the local one, Ray's, and the concepts' passes): where a scan
is, one batch merged into the top-k tables, progress, loader sizes, receptive fields per layer.

>>> state = ScanState({}).advanced({}, 4, ["a.jpg: not an image"])
>>> state.scanned, state.skipped, state.skipped_names
(4, 1, ['a.jpg: not an image'])
>>> loader_defaults([], None, None)           # (batch size, workers) for a list of images
(32, 0)
"""

from __future__ import annotations

import contextlib
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..model.network import Network
from ._analytic import spans
from .receptive import Field, receptive_field
from .topk import Table, candidates, merge, peaks, relu_peaks

__all__ = ["ENGINES", "ScanState", "batch_tables", "progress_bar", "interrupted",
           "loader_defaults", "check_top_engine", "layer_fields"]

#: What ``channel_atlas(..., engine=)`` takes.
ENGINES = ("local", "ray")
#: How many unreadable images an atlas names.
_NAMED_SKIPS = 10
#: Measured receptive fields per model: {model: {(layer, input size): Field}}.
_FIELDS: weakref.WeakKeyDictionary[torch.nn.Module, dict] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ScanState:
    """Where a scan is: the top-k tables, images scanned (a prefix), unreadable ones."""

    tables: dict[tuple[str, str], Table]  #: (point, score) -> its running top-k table
    scanned: int = 0  #: images scanned, from the first on
    skipped: int = 0  #: of those, how many could not be read
    skipped_names: list[str] = field(default_factory=list)  #: the first few, with the reason

    def advanced(self, tables: dict[tuple[str, str], Table], n: int,
                 errors: Sequence[str]) -> ScanState:
        names = (self.skipped_names + list(errors))[:_NAMED_SKIPS]
        return replace(self, tables=tables, scanned=self.scanned + n,
                       skipped=self.skipped + len(errors), skipped_names=names)


def batch_tables(net: Network, points: Sequence[str], scores: Sequence[str], k: int,
                 tables: dict[tuple[str, str], Table],
                 batch: dict[str, Any]) -> dict[tuple[str, str], Table]:
    """``tables`` with one collated batch (:func:`.sources.collate`) merged in."""
    ok = batch["ok"]
    if not bool(ok.any()):
        return tables
    dtype = net.dtype
    pixels, index, size = batch["pixels"], batch["index"], batch["size"]
    if not bool(ok.all()):
        pixels, index, size = pixels[ok], index[ok], size[ok]
    x = pixels.to(net.device, dtype, non_blocking=True)
    values = net.extractor.run(x, list(points), maps=True)
    # one merge per score over every point's channels stacked: rows are independent, and a
    # few large tensor operations cost far less than many small ones (thread start-up)
    found: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for point in points:  # a ReLU's maxima follow from its input's: one pass less
        source = _relu_input(net, point)
        found[point] = relu_peaks(found[source]) if source in found else peaks(values[point])
    cand = torch.cat([candidates(values[p], index, size, found[p]) for p in points])
    sizes = [int(values[point].shape[1]) for point in points]
    out = dict(tables)
    for score in scores:
        stacked = torch.cat([tables[(point, score)] for point in points])
        for point, part in zip(points, merge(stacked, cand, k, score).split(sizes), strict=True):
            out[(point, score)] = part
    return out


def _relu_input(net: Network, name: str) -> str | None:
    """The point whose values ``name`` is exactly the ReLU of (``nn.ReLU``, ``F.relu``,
    ``x.relu_()``), or None (another activation, or not one)."""
    point = net.extractor.point(name)
    if point.pre is None:
        return None
    if point.op == "module":
        module = net.model.get_submodule(point.module) if point.module else None
        return point.pre if type(module) is torch.nn.ReLU else None
    return point.pre if point.op in ("relu", "relu_") else None


@contextlib.contextmanager
def progress_bar(total: int, initial: int, show: bool, desc: str,
                 unit: str = "img") -> Iterator[Any]:
    """A tqdm.auto bar (a do-nothing one when ``show`` is False)."""
    from tqdm.auto import tqdm  # tqdm.auto looks for Jupyter: only when a scan runs

    bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, disable=not show,
               dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def interrupted(state: ScanState, total: int) -> None:
    """The warning for a scan stopped by Ctrl-C."""
    warnings.warn(
        f"channel atlas interrupted after {state.scanned} of {total} images; the atlas holds "
        "what is done: continue it with atlas.resume(net, images) or "
        "channel_atlas(..., resume=atlas)", RuntimeWarning, stacklevel=5)


def loader_defaults(images: Any, batch_size: int | None, num_workers: int | None) -> tuple[int, int]:
    """(batch size, workers): those given, else a ``DataLoader``'s own, else (32, 0)."""
    if isinstance(images, torch.utils.data.DataLoader):
        batch_size = images.batch_size if batch_size is None else batch_size
        num_workers = images.num_workers if num_workers is None else num_workers
    batch_size = 32 if batch_size is None else batch_size
    num_workers = 0 if num_workers is None else num_workers
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
    return batch_size, num_workers


def check_top_engine(top: Any, engine: Any) -> None:
    """A clear error for a ``top`` that is no positive int, or an unknown ``engine``."""
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def layer_fields(net: Network, layers: Sequence[str], known: dict[str, Field],
                 progress: bool) -> tuple[dict[str, Field], bool]:
    """The receptive field of each of ``layers`` (read from the graph, or measured with a
    progress bar), cached per model; (fields, True) when Ctrl-C stopped the measurement:
    those done so far."""
    cache = _FIELDS.setdefault(net.model, {})
    out, todo = dict(known), []
    for name in layers:
        key = (net.layers.get(name).native, tuple(net.input_size))
        if name in out:
            continue
        if key not in cache:
            if spans(net, net.layers.get(name).pre) is None:
                todo.append((name, key))  # measured below, with a progress bar
                continue
            cache[key] = receptive_field(net, name, "pre")  # read from the graph
        out[name] = cache[key]
    with progress_bar(len(todo), 0, progress and bool(todo), "receptive fields", "layer") as bar:
        done = 0  # layers measured, for the warning below
        try:
            for name, key in todo:
                if key not in cache:
                    cache[key] = receptive_field(net, name, "pre")
                out[name] = cache[key]
                done += 1
                bar.update(1)
        except KeyboardInterrupt:
            warnings.warn(
                f"channel atlas interrupted while measuring receptive fields ({done} of "
                f"{len(todo)} layers), before any image was scanned: the atlas holds no image "
                "yet; continue it with atlas.resume(net, images) or channel_atlas(..., "
                "resume=atlas)", RuntimeWarning, stacklevel=4)
            return out, True
    return out, False
