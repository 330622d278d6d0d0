""":func:`layer_concepts`: a layer's concepts over one image or a collection (sample, fit, project).

Two ways, chosen by the collection's size:

- **every position**: when all the images' map cells together are at most ``positions``
  (one photo; tens of photos at 14×14), one pass keeps them all, the factorisation is fitted
  on all of them, and its coefficients are the maps;
- **a sample, then a projection**: otherwise, ``fit_images`` images drawn at random (seeded)
  give ``ceil(positions / fit_images)`` cells each, drawn at random per image (a seeded draw
  of its own, so that batches and workers do not change it): at most ``positions`` rows of
  C values, on which the loadings are fitted. A second pass projects every image's
  activations onto the fixed loadings (:func:`.factor.project`) and keeps its maps, the
  running top-k per concept (:mod:`actwidgets.atlas.topk`) and the error sums, so memory is
  the sample plus n·h·w floats per image (none with ``keep_maps=False``). Where the sample
  holds every cell of its images (a 14×14 map: 196 cells each from 256 images), those are
  projected from it and the pass reads only the other images.

Both passes stream the images as the channel atlas does (:mod:`actwidgets.atlas.sources`: a
``DataLoader`` decoding in its workers, unreadable images skipped and counted, a tqdm bar);
Ctrl-C stops a pass between batches and gives the concepts of what is done.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atlas.engine import ENGINES, loader_defaults, progress_bar
from ..atlas.sources import Collection, PreparedImages, collate, collection, is_uri, prepare
from ..atlas.store import Skipped
from ..atlas.topk import candidates, empty, merge, to_numpy
from ..model.network import Network, check_network
from . import factor
from .record import Concepts, Sample
from .work import Plan, Work, compute, one_blas_thread

__all__ = ["layer_concepts", "POSITIONS", "FIT_IMAGES"]

#: Map cells the loadings are fitted on, at most.
POSITIONS = 50_000
#: Images those cells are drawn from, at most (when the collection has more cells).
FIT_IMAGES = 256


@dataclass
class _Pass:
    """What a pass has gathered: sampled rows, maps, the top-k table, error sums."""

    rows: list[np.ndarray] = field(default_factory=list)
    index: list[int] = field(default_factory=list)
    sizes: list[np.ndarray] = field(default_factory=list)
    done: int = 0
    skipped: int = 0
    names: list[str] = field(default_factory=list)
    err2: float = 0.0
    norm2: float = 0.0
    table: Any = None
    scale: np.ndarray | None = None
    has: np.ndarray | None = None       # which images have maps

    def count(self, part: dict[str, Any]) -> None:
        self.done += part["count"]
        self.skipped += len(part["errors"])
        self.names = (self.names + list(part["errors"]))[:10]


class _Subset(torch.utils.data.Dataset):
    """The images ``indices`` of a collection, prepared for the network."""

    def __init__(self, images: Collection, preprocess: Any, indices: list[int]) -> None:
        self.images, self.preprocess, self.indices = images, preprocess, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int) -> dict[str, Any]:
        return prepare(self.images, self.preprocess, self.indices[j])


def _plan(net: Network, layer: Any, n: Any, stage: Any, seed: Any, positions: Any,
          top: Any, keep_maps: bool) -> Plan:
    info, _ = net.layers.select(layer, stage).one("layer_concepts")  # the common sentences
    stage = "post" if stage is None else stage  # None: after the ReLU, whatever the default
    if stage == "pre":  # a layer without stages was refused "pre" above
        raise ValueError(
            f"concepts are a non-negative factorisation, and {info.name!r} before its ReLU has "
            "negative values: use stage='post' (what the next layer sees; a negative value is "
            "a channel that does not fire)")
    point = info.point(stage)
    p = net.extractor.point(point)
    for value, name in ((seed, "seed"), (positions, "positions"), (top, "top")):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if positions < 1 or top < 0:
        raise ValueError(f"positions must be >= 1 and top >= 0, got {positions} and {top}")
    n = factor.check_counts(n, p.channels, info.name)
    return Plan(info.name, stage, point, p.channels, tuple(p.size), n, int(seed),
                 int(positions), int(top), bool(keep_maps))


def _stream(net: Network, images: Collection, indices: list[int] | None, plan: Plan,
            work: Work, how: dict[str, Any], desc: str,
            absorb: Callable[[dict[str, Any]], None]) -> bool:
    """``absorb`` each batch's part (:func:`.work.compute`) of the images ``indices`` (None:
    all) on the engine; True when Ctrl-C stopped it."""
    if how["engine"] == "ray":
        from .ray_pass import stream_ray

        return stream_ray(net, images, indices, plan, work, how, desc, absorb)
    dataset = (PreparedImages(images, net.preprocess) if indices is None
               else _Subset(images, net.preprocess, indices))
    loader = torch.utils.data.DataLoader(dataset, batch_size=how["batch_size"],
                                         num_workers=how["num_workers"], collate_fn=collate,
                                         pin_memory=net.device.type == "cuda")
    with progress_bar(len(dataset), 0, how["progress"], desc) as bar:
        try:
            for batch in loader:
                absorb(compute(net, plan, work, batch))
                bar.update(len(batch["index"]))
        except KeyboardInterrupt:
            return True
    return False


def _sampled(got: _Pass) -> Callable[[dict[str, Any]], None]:
    def absorb(part: dict[str, Any]) -> None:
        got.rows.extend(part.get("rows", []))
        got.index.extend(part["index"].tolist())
        got.sizes.append(part["size"])
        got.count(part)

    return absorb


def _projected(got: _Pass, plan: Plan, maps: np.ndarray) -> Callable[[dict[str, Any]], None]:
    def absorb(part: dict[str, Any]) -> None:
        if len(part["index"]):
            got.err2, got.norm2 = got.err2 + part["err2"], got.norm2 + part["norm2"]
            _record(got, plan, maps, torch.from_numpy(part["index"]),
                    torch.from_numpy(part["size"]), torch.as_tensor(part["maps"]))
        got.count(part)

    return absorb


def _record(got: _Pass, plan: Plan, maps: np.ndarray, index: torch.Tensor,
            size: torch.Tensor, m: torch.Tensor) -> None:
    """Keep a batch's concept maps ``m`` (B, n, h, w): stored, ranked, their maxima."""
    if plan.keep_maps:
        maps[index.numpy()] = m.cpu().numpy()
    if got.has is not None:
        got.has[index.numpy()] = True
    if plan.top:
        m = m.to(got.table.device)
        got.table = merge(got.table, candidates(m, index, size), plan.top, "max")
    top = m.amax(dim=(0, 2, 3)).cpu().numpy()
    got.scale = top if got.scale is None else np.maximum(got.scale, top)


def _interrupted(what: str, done: int, total: int) -> None:
    warnings.warn(f"layer_concepts interrupted after {done} of {total} images while "
                  f"{what}: the concepts hold what is done", RuntimeWarning, stacklevel=4)


def _fit(plan: Plan, got: _Pass, stopped: bool, max_iter: int) -> factor.Fit:
    rows = sum(len(r) for r in got.rows)
    if stopped and rows < plan.n:
        raise KeyboardInterrupt
    x = np.concatenate(got.rows) if got.rows else np.zeros((0, plan.channels), np.float32)
    with one_blas_thread():
        return factor.fit(x, plan.n, seed=plan.seed, max_iter=max_iter)


def _every_position(net: Network, images: Collection, plan: Plan, how: dict[str, Any],
                    max_iter: int) -> dict[str, Any]:
    """One pass keeping every cell; the fit's coefficients are the maps."""
    got = _Pass()
    every = Work("sample", quota=plan.size[0] * plan.size[1])
    stopped = _stream(net, images, None, plan, every, how, f"concepts {plan.layer}",
                      _sampled(got))
    if stopped:
        _interrupted("reading the images", got.done, len(images))
    fit = _fit(plan, got, stopped, max_iter)
    h, w = plan.size
    maps = np.zeros((len(images) if plan.keep_maps else 0, plan.n, h, w), np.float32)
    proj = _Pass(table=empty(plan.n, plan.top) if plan.top else None,
                 has=np.zeros(len(images), bool))
    if got.index:
        m = torch.from_numpy(fit.weights.reshape(len(got.index), h, w, plan.n)).permute(0, 3, 1, 2)
        index = torch.tensor(got.index, dtype=torch.int64)
        _record(proj, plan, maps, index, torch.from_numpy(np.concatenate(got.sizes)), m.contiguous())
    return {"fit": fit, "maps": maps, "got": got, "proj": proj, "explained": fit.explained,
            "projected": got.done, "skipped": got.skipped, "names": got.names}


def _sample_then_project(net: Network, images: Collection, plan: Plan, fit_images: int,
                         how: dict[str, Any], max_iter: int) -> dict[str, Any]:
    """A pass over a random sample of images to fit, then one to project: over the others
    when the sample holds every cell of its images (those are projected from memory), else
    over all."""
    m = min(len(images), fit_images)
    chosen = np.sort(np.random.default_rng(plan.seed).choice(len(images), m, replace=False))
    quota = min(plan.size[0] * plan.size[1], math.ceil(plan.positions / m))
    whole = quota == plan.size[0] * plan.size[1]
    got = _Pass()
    cut = _stream(net, images, chosen.tolist(), plan, Work("sample", quota=quota), how,
                  f"concepts {plan.layer}: sample", _sampled(got))
    if cut:
        _interrupted("sampling", got.done, m)
    fit = _fit(plan, got, cut, max_iter)
    maps = np.zeros((len(images) if plan.keep_maps else 0, plan.n, *plan.size), np.float32)
    proj = _Pass(table=empty(plan.n, plan.top, net.device) if plan.top else None,
                 has=np.zeros(len(images), bool))
    rest = np.setdiff1d(np.arange(len(images)), chosen).tolist() if whole else None
    if not cut:
        if whole and got.index:
            _projected(proj, plan, maps)(_kept_part(got, plan, fit.loadings))
        cut = _stream(net, images, rest, plan, Work("project", loadings=fit.loadings), how,
                      f"concepts {plan.layer}: project", _projected(proj, plan, maps))
        done = proj.done + (got.done if whole else 0)
        if cut:
            _interrupted("projecting", done, len(images))
    else:
        done = 0
    explained = (1.0 - factor.relative_error(proj.err2, proj.norm2) if proj.norm2 > 0
                 else fit.explained)
    skipped = got.skipped + proj.skipped if whole else max(got.skipped, proj.skipped)
    names = (got.names + proj.names)[:10] if whole else max(got.names, proj.names, key=len)
    return {"fit": fit, "maps": maps, "got": got, "proj": proj, "explained": explained,
            "projected": done, "skipped": skipped, "names": names}


def _kept_part(got: _Pass, plan: Plan, loadings: np.ndarray) -> dict[str, Any]:
    """The sampled images' part, projected from the sample (which holds all their cells)."""
    x, ld = torch.from_numpy(np.concatenate(got.rows)), torch.from_numpy(loadings)
    with one_blas_thread():
        coef = factor.project(x, ld)
    err2, norm2 = factor.residual(x, coef, ld)
    h, w = plan.size
    return {"count": 0, "errors": [], "index": np.asarray(got.index, np.int64),
            "size": np.concatenate(got.sizes), "err2": err2, "norm2": norm2,
            "maps": coef.reshape(-1, h, w, plan.n).permute(0, 3, 1, 2).contiguous()}


def layer_concepts(
    net: Network,
    images: Any,
    layer: Any,
    n: int = 6,
    *,
    stage: str | None = None,
    seed: int = 0,
    positions: int = POSITIONS,
    fit_images: int = FIT_IMAGES,
    top: int = 9,
    keep_maps: bool = True,
    batch_size: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    engine: str = "local",
    actors: int | None = None,
    max_iter: int = factor.MAX_ITER,
) -> Concepts:
    """The ``n`` concepts of ``layer``: groups of channels that fire together, found by
    non-negative matrix factorisation of its activations over ``images``.

    - ``images``: one image (anything :func:`~actwidgets.load_image` reads, or a sample
      name), or a collection as :func:`~actwidgets.channel_atlas` takes it: a folder, a list,
      a torch ``Dataset``/``DataLoader`` (unreadable images are skipped and counted).
    - ``stage``: ``None`` or ``"post"``: the value after the layer's ReLU, as it is. ``"pre"``
      is refused (a layer without stages has none, see :func:`~actwidgets.activations`; for a
      layer with a ReLU, before it a channel that does not fire is
      negative, and a non-negative factorisation would have to clip or shift it, changing
      what is factorised; after it is what the next layer sees). A layer whose values are
      negative anyway (no ReLU after it) raises :class:`~.factor.NegativeValuesError`.
    - ``positions`` (50,000) map cells at most are fitted on: all of them when the images
      have no more; otherwise drawn from ``fit_images`` (256) random images, and every image
      is then projected onto the fitted loadings (see :mod:`actwidgets.concepts.collect`).
    - ``seed``: the same seed gives the same concepts. ``top``: the best ``top`` map cells
      per concept over the collection (:meth:`Concepts.top`; 0: none).
    - ``keep_maps``: keep every image's (n, h, w) maps (False: memory flat in the images).
    - ``progress``: a tqdm bar; Ctrl-C stops between batches and returns the concepts of
      what is done (``complete`` False), with a warning. ``batch_size``, ``num_workers``: as the atlas'.
    - ``engine``: ``"local"``, or ``"ray"``: both passes on Ray Data as the atlas' Ray scan
      runs (reading tasks, ``actors`` copies of the model), merged in order on the driver;
      the same concepts (see :mod:`actwidgets.concepts.ray_pass`).

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> c = aw.layer_concepts(net, "face", "fire6-relu_squeeze1x1", n=4, progress=False)
    >>> c.loadings.shape, c.maps.shape, 0 < c.explained <= 1
    ((4, 48), (1, 4, 14, 14), True)
    """
    check_network(net, "layer_concepts")
    plan = _plan(net, layer, n, stage, seed, positions, top, keep_maps)
    how = _how(images, fit_images, batch_size, num_workers, progress, engine, actors)
    coll = _collection(images)
    if len(coll) == 0:
        raise ValueError("there are no images to find concepts in: pass an image, a list of "
                         "images, a folder of images or a Dataset")
    if len(coll) * plan.size[0] * plan.size[1] <= plan.positions:
        out = _every_position(net, coll, plan, how, max_iter)
    else:
        out = _sample_then_project(net, coll, plan, int(fit_images), how, max_iter)
    return _concepts(net, coll, plan, out)


def _how(images: Any, fit_images: Any, batch_size: Any, num_workers: Any, progress: bool,
         engine: Any, actors: Any) -> dict[str, Any]:
    """How the passes run: batches, workers, progress bar, engine (checked)."""
    if not isinstance(fit_images, (int, np.integer)) or isinstance(fit_images, bool) or fit_images < 1:
        raise ValueError(f"fit_images must be a positive int, got {fit_images!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    batch_size, num_workers = loader_defaults(images, batch_size, num_workers)
    return {"batch_size": batch_size, "num_workers": num_workers, "progress": bool(progress),
            "engine": engine, "actors": actors}


def _collection(images: Any) -> Collection:
    """One image (a sample name, a file, an array, a PIL image, bytes) as a collection of one;
    anything else by the atlas' rule (:func:`actwidgets.atlas.sources.collection`)."""
    from PIL import Image

    from ..samples import SAMPLE_IMAGES

    if isinstance(images, (str, os.PathLike)) and not is_uri(images):
        path = Path(images).expanduser()
        if path.is_file() or (str(images) in SAMPLE_IMAGES and not path.exists()):
            return collection([images])
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim in (2, 3):
        return collection([images])
    if isinstance(images, (Image.Image, bytes, bytearray)):
        return collection([images])
    return collection(images)


def _concepts(net: Network, coll: Collection, plan: Plan, out: dict[str, Any]) -> Concepts:
    fit, got, proj = out["fit"], out["got"], out["proj"]
    sample = Sample(positions=int(sum(len(r) for r in got.rows)), images=len(got.index),
                    indices=tuple(int(i) for i in got.index),
                    seed=plan.seed, explained=fit.explained, iterations=fit.iterations,
                    converged=fit.converged)
    table = to_numpy(proj.table) if proj.table is not None else None
    scale = proj.scale if proj.scale is not None else np.zeros(plan.n, np.float32)
    return Concepts(
        layer=plan.layer, stage=plan.stage, loadings=fit.loadings, maps=out["maps"],
        explained=float(out["explained"]), sample=sample, n_images=len(coll),
        projected=int(out["projected"]), skipped=Skipped(out["skipped"], out["names"]),
        scale=scale.astype(np.float32), has_maps=proj.has, table=table, net=net, source=coll)
