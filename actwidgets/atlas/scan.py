""":func:`channel_atlas`: scan an image collection for what makes each channel fire.

The scan streams the images through a ``DataLoader`` (decoding and preprocessing in its
workers), runs the network once per batch under ``torch.no_grad()`` on the model's device,
capturing every requested layer at both stages in that one pass, and merges each batch into
a running top-k per channel (:mod:`.topk`), so memory stays layers × channels × k whatever
the number of images. Ctrl-C stops it between batches and returns what is done;
``resume=atlas`` continues from the next unscanned image. ``engine="ray"`` runs the same
scan on Ray Data (:mod:`.ray_engine`).

>>> import numpy as np, torch.nn as nn, actwidgets as aw
>>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
>>> net = aw.Network.wrap(model, input_size=24)
>>> rng = np.random.default_rng(0)
>>> pictures = [rng.integers(0, 255, (30, 40, 3), dtype=np.uint8) for _ in range(5)]
>>> atlas = aw.channel_atlas(net, pictures, ["0", "2"], top=3, score="both", progress=False)
>>> atlas                                                         # doctest: +NORMALIZE_WHITESPACE
ChannelAtlas('Sequential', own weights, 2 layers, stages pre/post, by max/mean, top 3,
             5 images, complete, 0 skipped)
>>> atlas.table("0", stage="pre")["index"].shape     # channels × k
(4, 3)
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..model.network import Network, check_network
from ._analytic import spans
from .receptive import Field, Geometry, receptive_field
from .sources import Collection, PreparedImages, check_collection, collate, collection
from .store import FORMAT, ChannelAtlas
from .topk import (SCORES, Table, candidates, empty, from_numpy, merge, peaks, relu_peaks,
                   to_numpy)

__all__ = ["channel_atlas", "ScanState", "batch_tables", "ENGINES"]

#: What ``channel_atlas(..., engine=)`` takes.
ENGINES = ("local", "ray")
#: How many unreadable images an atlas names.
_NAMED_SKIPS = 10
#: Measured receptive fields per model: {model: {(layer, input size): Field}}.
_FIELDS: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ScanState:
    """Where a scan is: the top-k tables, images scanned (a prefix), unreadable ones."""

    tables: dict[tuple[str, str], Table]
    scanned: int = 0
    skipped: int = 0
    skipped_names: list[str] = field(default_factory=list)

    def advanced(self, tables: dict[tuple[str, str], Table], n: int,
                 errors: Sequence[str]) -> "ScanState":
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
        for point, part in zip(points, merge(stacked, cand, k, score).split(sizes)):
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


# ---------------------------------------------------------------------- arguments


def _score_list(score: str | Sequence[str]) -> list[str]:
    scores = list(SCORES) if score == "both" else [score] if isinstance(score, str) else list(score)
    if not scores or any(s not in SCORES for s in scores) or len(set(scores)) < len(scores):
        raise ValueError(f'score must be "max", "mean", "both" or ("max", "mean"), got {score!r}')
    return scores


def _layer_specs(net: Network, layers: Any, stage: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Each layer's spec (its points per stage scanned) and the stages scanned over all."""
    specs = []
    for name, info, stages in net.layers.select(layers, stage):
        h, w = net.extractor.point(info.pre).size
        specs.append({"name": name, "native": info.native, "channels": info.channels,
                      "map_size": [h, w], "default_stage": info.default_stage,
                      "points": {s: info.point(s) for s in stages}})
    return specs, [s for s in ("pre", "post") if any(s in spec["points"] for spec in specs)]


def _weights_digest(net: Network) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name, t in net.model.state_dict().items():
        h.update(name.encode())
        data = t.detach().reshape(-1).contiguous().cpu()
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()


def _meta(net: Network, images: Collection, specs: list[dict], stages: list[str],
          scores: list[str], k: int) -> dict[str, Any]:
    geometry = Geometry.of(net.preprocess)
    resize = list(geometry.resize) if isinstance(geometry.resize, tuple) else geometry.resize
    return {
        "format": FORMAT, "model": net.name, "weights": net.weights,
        "weights_digest": _weights_digest(net), "preprocess": repr(net.preprocess),
        "geometry": {"size": list(geometry.size), "known": geometry.known, "resize": resize},
        "input_size": list(net.input_size), "layers": specs, "stages": stages, "scores": scores,
        "k": k, "images": {"kind": images.kind, "root": str(images.root) if images.root else None,
                           "count": len(images), "fingerprint": images.fingerprint()},
    }


#: What a resumed scan must share with the atlas it continues.
_SAME = ("model", "weights", "weights_digest", "preprocess", "layers", "stages", "scores", "k",
         "images")


def _check_resume(atlas: ChannelAtlas, meta: dict[str, Any]) -> None:
    if not isinstance(atlas, ChannelAtlas):
        raise TypeError(f"resume takes a ChannelAtlas, got {type(atlas).__name__}")
    differ = [key for key in _SAME if atlas.meta.get(key) != meta[key]]
    if differ:
        what = {"images": "the images (their list, sizes or dates: the fingerprint)",
                "weights_digest": "the weights' values"}
        raise ValueError(
            "this atlas was computed on other " + ", ".join(what.get(k, k) for k in differ)
            + ": resume with the same network, images, layers, stage, score and top")


def _fields(net: Network, specs: list[dict], known: dict[str, Field],
            progress: bool) -> tuple[dict[str, Field], bool]:
    """The receptive field of each layer (read from the graph, or measured with a progress
    bar); (fields, True) when Ctrl-C stopped the measurement: those done so far."""
    cache = _FIELDS.setdefault(net.model, {})
    out, todo = dict(known), []
    for spec in specs:
        key = (spec["native"], tuple(net.input_size))
        if spec["name"] in out:
            continue
        if key not in cache:
            if spans(net, net.layers.get(spec["name"]).pre) is None:
                todo.append(spec)  # measured below, with a progress bar
                continue
            cache[key] = receptive_field(net, spec["name"], "pre")  # read from the graph
        out[spec["name"]] = cache[key]
    with progress_bar(len(todo), 0, progress and bool(todo), "receptive fields", "layer") as bar:
        try:
            for done, spec in enumerate(todo):
                key = (spec["native"], tuple(net.input_size))
                if key not in cache:
                    cache[key] = receptive_field(net, spec["name"], "pre")
                out[spec["name"]] = cache[key]
                bar.update(1)
        except KeyboardInterrupt:
            warnings.warn(
                f"channel atlas interrupted while measuring receptive fields ({done} of "
                f"{len(todo)} layers), before any image was scanned: the atlas holds no image "
                "yet; continue it with atlas.resume(net, images) or channel_atlas(..., "
                "resume=atlas)", RuntimeWarning, stacklevel=3)
            return out, True
    return out, False


# ---------------------------------------------------------------------- the local scan


@contextlib.contextmanager
def progress_bar(total: int, initial: int, show: bool, desc: str,
                 unit: str = "img") -> Iterator[Any]:
    """A tqdm.auto bar (a do-nothing one when ``show`` is False)."""
    from tqdm.auto import tqdm

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
        "channel_atlas(..., resume=atlas)", RuntimeWarning, stacklevel=4)


def _scan_local(net: Network, images: Collection, plan: dict[str, Any], state: ScanState,
                batch_size: int, num_workers: int, progress: bool) -> ScanState:
    data = PreparedImages(images, net.preprocess, start=state.scanned)
    if len(data) == 0:
        return state
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
        pin_memory=net.device.type == "cuda")
    points, scores, k = plan["points"], plan["scores"], plan["k"]
    with progress_bar(len(images), state.scanned, progress, f"atlas {net.name}") as bar:
        try:
            for batch in loader:
                tables = batch_tables(net, points, scores, k, state.tables, batch)
                state = state.advanced(tables, len(batch["index"]), batch["errors"])
                bar.update(len(batch["index"]))
                if state.skipped:
                    bar.set_postfix(skipped=state.skipped, refresh=False)
        except KeyboardInterrupt:
            interrupted(state, len(images))
    return state


# ---------------------------------------------------------------------- the entry point


def _loader_defaults(images: Any, batch_size: int | None, num_workers: int | None) -> tuple[int, int]:
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


def _check_top_engine(top: Any, engine: Any) -> None:
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")


def _start(net: Network, meta: dict[str, Any], resume: ChannelAtlas | None) -> ScanState:
    channels = {pt: spec["channels"] for spec in meta["layers"] for pt in spec["points"].values()}
    keys = [(p, s) for p in channels for s in meta["scores"]]
    if resume is None:
        return ScanState({key: empty(channels[key[0]], meta["k"], net.device) for key in keys})
    tables = {key: from_numpy(resume._tables[key], net.device) for key in keys}
    skipped = resume.skipped
    return ScanState(tables, resume.scanned, skipped.count, skipped.names)


def _warn_if_nothing_read(state: ScanState) -> None:
    if state.scanned and state.skipped >= state.scanned:
        first = state.skipped_names[0] if state.skipped_names else ""
        warnings.warn(f"channel atlas: none of the {state.scanned} images scanned could be read, "
                      f"so the atlas is empty (the first: {first}); see atlas.skipped",
                      RuntimeWarning, stacklevel=3)


def _finish(meta: dict[str, Any], state: ScanState, images: Collection,
            fields: dict[str, Field], engine: str) -> ChannelAtlas:
    tables = {key: to_numpy(t) for key, t in state.tables.items()}
    used = np.unique(np.concatenate([t["index"].ravel() for t in tables.values()] or [np.zeros(0)]))
    paths = {str(int(i)): images.path(int(i)) for i in used if i >= 0 and images.path(int(i))}
    meta = dict(meta, scanned=state.scanned, engine=engine, paths=paths,
                skipped={"count": state.skipped, "names": state.skipped_names},
                created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                actwidgets=__version__)
    return ChannelAtlas(meta, tables, fields)


def channel_atlas(
    net: Network,
    images: Any,
    layers: Any,
    top: int = 9,
    *,
    stage: str | None = "both",
    score: str | Sequence[str] = "max",
    batch_size: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    resume: ChannelAtlas | None = None,
    engine: str = "local",
    actors: int | None = None,
) -> ChannelAtlas:
    """Scan ``images`` and keep, for every channel of ``layers``, the ``top`` images in which
    it fires most, where, and the receptive-field patch around it.

    - ``images``: a folder (searched recursively for the files Pillow reads), a list of
      paths, arrays or anything :func:`~actwidgets.load_image` reads, or a torch
      ``Dataset``/``DataLoader`` of images or ``(image, label)`` pairs (raw images: the
      network's own preprocessing is applied); see :mod:`actwidgets.atlas.sources`.
      Unreadable images are skipped and counted (``atlas.skipped``).
    - ``layers``: a layer name, index or :class:`LayerInfo`, a block (``"fire6"``), or a
      list of them, read as :func:`~actwidgets.activations` reads its ``layer``.
    - ``stage``: ``"both"`` (pre and post, from the same forward pass), ``"pre"``, ``"post"``,
      or None (each layer's default stage), read as :func:`~actwidgets.activations` reads it.
    - ``score``: rank by the channel's ``"max"`` over its map, its ``"mean"``, or both
      (``("max", "mean")`` or ``"both"``, one pass). Ties go to the lower image index.
    - ``batch_size`` (32) and ``num_workers`` (0) for the ``DataLoader``; a ``DataLoader``
      passed as ``images`` gives its own.
    - ``progress``: a tqdm progress bar. Ctrl-C stops the scan between batches and returns
      the atlas of what is done (``atlas.complete`` is False); ``resume=atlas`` (or
      ``atlas.resume(net, images)``) continues from the next unscanned image, after checking
      that the network, its weights, the layers and the images are the same.
    - ``engine``: ``"local"``, or ``"ray"``: Ray Data reads the images in parallel and an
      actor pool of ``actors`` copies of the model (one GPU each where there are GPUs) scans
      them; the result is the same atlas (see :mod:`actwidgets.atlas.ray_engine`).
    """
    check_network(net, "channel_atlas")
    _check_top_engine(top, engine)
    batch_size, num_workers = _loader_defaults(images, batch_size, num_workers)
    scores = _score_list(score)
    specs, stages = _layer_specs(net, layers, stage)
    coll = collection(images)
    check_collection(coll)
    meta = _meta(net, coll, specs, stages, scores, int(top))
    if resume is not None:
        _check_resume(resume, meta)
    if not net.preprocess.geometry_known:
        warnings.warn(f"{net.name}'s preprocessing hides its resize and crop: the atlas' boxes "
                      "assume it stretches the whole picture to the input size", stacklevel=2)
    fields, stopped = _fields(net, specs, dict(resume._fields) if resume else {}, progress)
    plan = {"points": list(dict.fromkeys(p for s in specs for p in s["points"].values())),
            "scores": scores, "k": int(top)}
    state = _start(net, meta, resume)
    if not stopped:  # else Ctrl-C came before the first image: the atlas of nothing, to resume
        state = _scan(engine, net, coll, plan, state, (batch_size, num_workers, actors), progress)
        _warn_if_nothing_read(state)
    return _finish(meta, state, coll, fields, engine)


def _scan(engine: str, net: Network, images: Collection, plan: dict[str, Any], state: ScanState,
          sizes: tuple[int, int, int | None], progress: bool) -> ScanState:
    """``state`` continued over the rest of ``images`` by ``engine``."""
    batch_size, num_workers, actors = sizes
    if engine == "ray":
        from .ray_engine import scan_ray

        return scan_ray(net, images, plan, state, batch_size, actors, progress)
    return _scan_local(net, images, plan, state, batch_size, num_workers, progress)
