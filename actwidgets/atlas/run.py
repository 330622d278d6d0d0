"""One scan from its arguments to an atlas' parts: the arguments checked, the header, the
local pass (a ``DataLoader``) or Ray's, resuming where an earlier scan stopped.

:func:`scan` is what :func:`~actwidgets.channel_atlas` and
:meth:`~actwidgets.atlas.ChannelAtlas.resume` both run; it returns :class:`AtlasParts`,
which :class:`~actwidgets.atlas.ChannelAtlas` is made of.
"""

from __future__ import annotations

import datetime
import hashlib
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from .. import __version__
from ..model.network import Network, check_network
from .engine import (
    ScanState,
    batch_tables,
    check_top_engine,
    interrupted,
    layer_fields,
    loader_defaults,
    progress_bar,
)
from .meta import AtlasMeta, ImagesInfo, LayerSpec, ScanPlan, Skipped
from .ray_engine import scan_ray
from .receptive import Field, Geometry
from .sources import Collection, PreparedImages, check_collection, collate, collection
from .topk import SCORES, empty, from_numpy, to_numpy

__all__ = ["AtlasParts", "scan"]


class AtlasParts(NamedTuple):
    """What an atlas is made of."""

    meta: AtlasMeta  #: its header
    tables: dict[tuple[str, str], dict[str, np.ndarray]]  #: (point, score) -> (channels, k) arrays
    fields: dict[str, Field]  #: layer -> its receptive fields


def _score_list(score: str | Sequence[str]) -> tuple[str, ...]:
    scores = list(SCORES) if score == "both" else [score] if isinstance(score, str) else list(score)
    if not scores or any(s not in SCORES for s in scores) or len(set(scores)) < len(scores):
        raise ValueError(f'score must be "max", "mean", "both" or ("max", "mean"), got {score!r}')
    return tuple(scores)


def _layer_specs(net: Network, layers: Any,
                 stage: str | None) -> tuple[tuple[LayerSpec, ...], tuple[str, ...]]:
    """Each layer's spec (its points per stage scanned, as :meth:`LayerCatalogue.select`
    reads ``layers`` and ``stage``) and the stages scanned over all."""
    specs = []
    for name, info, stages in net.layers.select(layers, stage):
        h, w = net.extractor.point(info.pre).size
        specs.append(LayerSpec(name, info.native, info.channels, (h, w), info.default_stage,
                               {s: info.point(s) for s in stages}))
    scanned = tuple(s for s in ("pre", "post") if any(s in spec.points for spec in specs))
    return tuple(specs), scanned


def _weights_digest(net: Network) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name, t in net.model.state_dict().items():
        h.update(name.encode())
        data = t.detach().reshape(-1).contiguous().cpu()
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()


def _meta(net: Network, images: Collection, specs: tuple[LayerSpec, ...],
          stages: tuple[str, ...], scores: tuple[str, ...], k: int) -> AtlasMeta:
    info = ImagesInfo(images.kind, str(images.root) if images.root else None, len(images),
                      images.fingerprint())
    return AtlasMeta(model=net.name, weights=net.weights, weights_digest=_weights_digest(net),
                     preprocess=repr(net.preprocess), geometry=Geometry.of(net.preprocess),
                     input_size=tuple(net.input_size), layers=specs, stages=stages,
                     scores=scores, k=k, images=info)


def _check_resume(resume: AtlasParts, meta: AtlasMeta) -> None:
    differ = resume.meta.differs(meta)
    if differ:
        what = {"images": "the images (their list, sizes or dates: the fingerprint)",
                "weights_digest": "the weights' values"}
        raise ValueError(
            "this atlas was computed on other " + ", ".join(what.get(k, k) for k in differ)
            + ": resume with the same network, images, layers, stage, score and top")


def _scan_local(net: Network, images: Collection, plan: ScanPlan, state: ScanState,
                batch_size: int, num_workers: int, progress: bool) -> ScanState:
    data = PreparedImages(images, net.preprocess, start=state.scanned)
    if len(data) == 0:
        return state
    loader = torch.utils.data.DataLoader(
        data, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
        pin_memory=net.device.type == "cuda")
    with progress_bar(len(images), state.scanned, progress, f"atlas {net.name}") as bar:
        try:
            for batch in loader:
                tables = batch_tables(net, plan.points, plan.scores, plan.k, state.tables, batch)
                state = state.advanced(tables, len(batch["index"]), batch["errors"])
                bar.update(len(batch["index"]))
                if state.skipped:
                    bar.set_postfix(skipped=state.skipped, refresh=False)
        except KeyboardInterrupt:
            interrupted(state, len(images))
    return state


def _start(net: Network, meta: AtlasMeta, resume: AtlasParts | None) -> ScanState:
    channels = {pt: spec.channels for spec in meta.layers for pt in spec.points.values()}
    keys = [(p, s) for p in channels for s in meta.scores]
    if resume is None:
        return ScanState({key: empty(channels[key[0]], meta.k, net.device) for key in keys})
    tables = {key: from_numpy(resume.tables[key], net.device) for key in keys}
    skipped = resume.meta.skipped
    return ScanState(tables, resume.meta.scanned, skipped.count, list(skipped.names))


def _warn_if_nothing_read(state: ScanState) -> None:
    if state.scanned and state.skipped >= state.scanned:
        first = state.skipped_names[0] if state.skipped_names else ""
        warnings.warn(f"channel atlas: none of the {state.scanned} images scanned could be read, "
                      f"so the atlas is empty (the first: {first}); see atlas.skipped",
                      RuntimeWarning, stacklevel=4)


def _finish(meta: AtlasMeta, state: ScanState, images: Collection,
            fields: dict[str, Field], engine: str) -> AtlasParts:
    tables = {key: to_numpy(t) for key, t in state.tables.items()}
    used = np.unique(np.concatenate([t["index"].ravel() for t in tables.values()] or [np.zeros(0)]))
    paths = {str(int(i)): images.path(int(i)) for i in used if i >= 0 and images.path(int(i))}
    meta = meta.finished(
        scanned=state.scanned, engine=engine, paths=paths,
        skipped=Skipped(state.skipped, list(state.skipped_names)),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        actwidgets=__version__)
    return AtlasParts(meta, tables, fields)


def scan(net: Network, images: Any, layers: Any, top: int, *, stage: str | None,
         score: str | Sequence[str], batch_size: int | None, num_workers: int | None,
         progress: bool, resume: AtlasParts | None, engine: str,
         actors: int | None) -> AtlasParts:
    """The parts of the atlas :func:`~actwidgets.channel_atlas` describes (same arguments;
    ``resume``: the parts of the atlas to continue)."""
    check_network(net, "channel_atlas")
    check_top_engine(top, engine)
    batch_size, num_workers = loader_defaults(images, batch_size, num_workers)
    scores = _score_list(score)
    specs, stages = _layer_specs(net, layers, stage)
    coll = collection(images)
    check_collection(coll)
    meta = _meta(net, coll, specs, stages, scores, int(top))
    if resume is not None:
        _check_resume(resume, meta)
    if not net.preprocess.geometry_known:
        warnings.warn(f"{net.name}'s preprocessing hides its resize and crop: the atlas' boxes "
                      "assume it stretches the whole picture to the input size", stacklevel=3)
    fields, stopped = layer_fields(net, [s.name for s in specs],
                                   dict(resume.fields) if resume else {}, progress)
    plan = ScanPlan(tuple(dict.fromkeys(p for s in specs for p in s.points.values())),
                    scores, int(top))
    state = _start(net, meta, resume)
    if not stopped:  # else Ctrl-C came before the first image: the atlas of nothing, to resume
        if engine == "ray":
            state = scan_ray(net, coll, plan, state, batch_size, actors, progress)
        else:
            state = _scan_local(net, coll, plan, state, batch_size, num_workers, progress)
        _warn_if_nothing_read(state)
    return _finish(meta, state, coll, fields, engine)
