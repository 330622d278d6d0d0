"""The channel-atlas scan on Ray Data: ``channel_atlas(..., engine="ray")``.

The same scan as the local one, spread over a Ray cluster:

1. ``ray.data.range`` numbers the unscanned images, one block per batch;
2. ``map_batches`` *tasks* read and decode them in parallel (local files, or cloud storage
   through ``pyarrow.fs``: ``s3://``, ``gs://``) and apply the network's preprocessing, as
   :func:`.sources.prepare` does in the local ``DataLoader``'s workers;
3. ``map_batches`` over an *actor pool* (``actors`` actors, each holding a copy of the model,
   one GPU each where the cluster has GPUs) runs the network once per batch, both stages of
   every layer in one pass, and sends back the batch's own top-k per channel;
4. the driver merges those per-batch tables, in order, into the running top-k
   (:func:`.topk.merge`), so the atlas is the same as the local scan's (the order of the
   merge does not change it; ties go to the lower index either way), Ctrl-C keeps a
   prefix of the collection, and ``resume=`` works as for the local scan.

Ray is the optional extra ``scale`` (``pip install -e ".[scale]"`` in actwidgets' checkout,
which installs ``ray[data]``); it is imported only here, only when a Ray scan runs. When Ray is not
initialised, ``ray.init()`` is called: it joins the cluster named by ``RAY_ADDRESS`` or starts
a local one. To choose, call ``ray.init(address="ray://head:10001")`` (or ``"auto"`` on a
cluster node) first. The model and the image list travel to the workers by pickling
(cloudpickle): a model class defined in a notebook travels by value, one from a module must
be importable there.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..model.network import Network
from .engine import ScanState, batch_tables, interrupted, progress_bar
from .meta import ScanPlan
from .sources import Collection, prepare
from .topk import empty, from_numpy, merge, to_numpy

__all__ = ["scan_ray", "require_ray", "read_batch", "Scanner", "resolve", "actor_pool",
           "model_for_workers", "ordered"]


def require_ray() -> Any:
    """The ``ray`` module (initialised), or an ImportError that says how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            'engine="ray" needs Ray Data: pip install "ray[data]" (or, in actwidgets\' checkout, '
            'pip install -e ".[scale]")'
        ) from exc
    if not ray.is_initialized():
        ray.init()  # RAY_ADDRESS's cluster, or a local one
    return ray


def resolve(value: Any) -> Any:
    """``value`` itself, or the object it refers to where it is a Ray object reference."""
    import ray  # an actor's process: Ray is there

    return ray.get(value) if isinstance(value, ray.ObjectRef) else value


def read_batch(batch: dict[str, np.ndarray], images: Any, preprocess: Any,
               start: int) -> dict[str, np.ndarray]:
    """Ray task: decode and preprocess the images numbered in ``batch["id"]`` (+ ``start``)."""
    images, preprocess = resolve(images), resolve(preprocess)
    items = [prepare(images, preprocess, start + int(i)) for i in batch["id"]]
    return {
        "index": np.array([it["index"] for it in items], dtype=np.int64),
        "pixels": np.stack([it["pixels"].numpy() for it in items]),
        "ok": np.array([it["ok"] for it in items], dtype=bool),
        "size": np.array([it["size"] for it in items], dtype=np.int32),
        "error": np.array([it["error"] for it in items], dtype=object),
    }


class Scanner:
    """Ray actor: a copy of the network; each batch becomes its own top-k tables."""

    def __init__(self, model: Any, preprocess: Any, backend: str, points: list[str],
                 scores: list[str], k: int) -> None:
        model, preprocess = resolve(model), resolve(preprocess)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = Network(model.to(device), preprocess, backend=backend)
        self.points, self.scores, self.k = points, scores, k
        self.channels = {p: self.net.extractor.point(p).channels for p in points}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        data = {  # as the local scan's DataLoader collates it; Ray's arrays are read-only
            # views of its object store, so each is copied (np.array), never wrapped as it is
            "index": torch.from_numpy(np.array(batch["index"], dtype=np.int64)),
            "pixels": torch.from_numpy(np.stack(list(batch["pixels"]))),
            "ok": torch.from_numpy(np.array(batch["ok"], dtype=bool)),
            "size": torch.from_numpy(np.array(batch["size"], dtype=np.int32)),
            "errors": [str(e) for e in batch["error"] if e],
        }
        tables = {(p, s): empty(self.channels[p], self.k, self.net.device)
                  for p in self.points for s in self.scores}
        tables = batch_tables(self.net, self.points, self.scores, self.k, tables, data)
        payload = {"first": int(data["index"].min()), "count": len(data["index"]),
                   "errors": data["errors"],
                   "tables": {key: to_numpy(t) for key, t in tables.items()}}
        return {"payload": np.array([pickle.dumps(payload)], dtype=object)}


def actor_pool(ray: Any, actors: int | None) -> tuple[int, float]:
    """(actors, GPUs per actor): one per GPU where the cluster has GPUs, else ``actors`` or 1."""
    gpus = int(ray.cluster_resources().get("GPU", 0))
    if actors is None:
        actors = gpus or 1
    if not isinstance(actors, int) or actors < 1:
        raise ValueError(f"actors must be a positive int, got {actors!r}")
    return actors, (1.0 if gpus >= actors else 0.0)


def model_for_workers(net: Network) -> torch.nn.Module:
    """The model on the CPU (a copy when it is elsewhere), to be pickled for the actors."""
    return net.model if net.device.type == "cpu" else copy.deepcopy(net.model).cpu()


def _dataset(ray: Any, net: Network, images: Collection, plan: ScanPlan, start: int,
             batch_size: int, actors: int | None) -> Any:
    count = len(images) - start
    n_actors, gpus = actor_pool(ray, actors)
    ds = ray.data.range(count, override_num_blocks=max(1, math.ceil(count / batch_size)))
    pre_ref = ray.put(net.preprocess)
    # Half a CPU per reading task (decoding waits on storage too); the remote arguments
    # differ from the actors', so that Ray Data keeps reading in tasks apart from the model.
    ds = ds.map_batches(read_batch, batch_size=batch_size, batch_format="numpy", num_cpus=0.5,
                        fn_kwargs={"images": ray.put(images), "preprocess": pre_ref, "start": start})
    return ds.map_batches(
        Scanner, batch_size=batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=n_actors), num_gpus=gpus, num_cpus=1,
        fn_constructor_kwargs={"model": ray.put(model_for_workers(net)), "preprocess": pre_ref,
                               "backend": net.extractor.backend, "points": list(plan.points),
                               "scores": list(plan.scores), "k": plan.k})


def scan_ray(net: Network, images: Collection, plan: ScanPlan, state: ScanState,
             batch_size: int, actors: int | None, progress: bool) -> ScanState:
    """Continue ``state`` over the rest of ``images`` on Ray Data (see the module's docstring)."""
    if state.scanned >= len(images):
        return state
    ray = require_ray()
    with ordered(ray):
        ds = _dataset(ray, net, images, plan, state.scanned, batch_size, actors)
        with progress_bar(len(images), state.scanned, progress, f"atlas {net.name} (ray)") as bar:
            rows = iter(ds.iter_rows())
            try:
                for row in rows:
                    state = _merged(state, pickle.loads(row["payload"]), plan.k)
                    bar.update(state.scanned - bar.n)
            except KeyboardInterrupt:
                interrupted(state, len(images))
            finally:
                getattr(rows, "close", lambda: None)()
    return state


@contextlib.contextmanager
def ordered(ray: Any) -> Iterator[None]:
    """Ray Data keeping the order of the batches (merged in order, Ctrl-C keeps a prefix) and
    showing no progress bars of its own (the driver shows one), for the scan only."""
    ctx = ray.data.DataContext.get_current()
    saved = ctx.execution_options.preserve_order, ctx.enable_progress_bars
    ctx.execution_options.preserve_order, ctx.enable_progress_bars = True, False
    try:
        yield
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved


def _merged(state: ScanState, part: dict[str, Any], k: int) -> ScanState:
    """``state`` with one batch's tables (from a :class:`Scanner`) merged in."""
    if part["first"] != state.scanned:
        warnings.warn("Ray returned the batches out of order; an interrupted scan cannot be "
                      "resumed exactly", RuntimeWarning, stacklevel=3)
    tables = {key: merge(t, from_numpy(part["tables"][key]), k, key[1])
              for key, t in state.tables.items()}
    return state.advanced(tables, part["count"], part["errors"])
