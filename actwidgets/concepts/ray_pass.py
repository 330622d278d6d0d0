"""The passes of :func:`~actwidgets.layer_concepts` on Ray Data: ``engine="ray"``.

The channel atlas' Ray scan, reused piece by piece (:mod:`actwidgets.atlas.ray_engine`):
``map_batches`` tasks read and preprocess the images (its ``read_batch``: local files or
cloud storage), an actor pool of ``actors`` copies of the model (one GPU each where the
cluster has GPUs) computes each batch's part (:func:`.work.compute`: sampled cells, or maps
projected onto the loadings), and the driver absorbs the parts in order, as the local pass
does. The sample is drawn per image from the seed, so it does not depend on which actor reads
which image: the concepts are the local ones. Ctrl-C keeps the parts absorbed so far.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..atlas.engine import progress_bar
from ..atlas.ray_engine import actor_pool, model_for_workers, ordered, read_batch, require_ray, resolve
from ..atlas.sources import Collection
from ..model.network import Network
from .work import Plan, Work, compute

__all__ = ["stream_ray", "ConceptWorker"]


class ConceptWorker:
    """Ray actor: a copy of the network; each batch becomes its part (pickled)."""

    def __init__(self, model: Any, preprocess: Any, backend: str, plan: Plan, work: Work) -> None:
        model, preprocess = resolve(model), resolve(preprocess)
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.net = Network(model.to(device), preprocess, backend=backend)
        self.plan, self.work = plan, work

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        data = {  # as the local pass's DataLoader collates it
            "index": torch.from_numpy(np.asarray(batch["index"], dtype=np.int64)),
            "pixels": torch.from_numpy(np.ascontiguousarray(np.stack(list(batch["pixels"])))),
            "ok": torch.from_numpy(np.asarray(batch["ok"], dtype=bool)),
            "size": torch.from_numpy(np.asarray(batch["size"], dtype=np.int32)),
            "errors": [str(e) for e in batch["error"] if e],
        }
        part = compute(self.net, self.plan, self.work, data)
        if "maps" in part:
            part["maps"] = part["maps"].cpu().numpy()
        part["first"] = int(data["index"].min())
        return {"payload": np.array([pickle.dumps(part)], dtype=object)}


def _dataset(ray: Any, net: Network, images: Collection, indices: list[int] | None, plan: Plan,
             work: Work, how: dict[str, Any]) -> Any:
    batch_size = how["batch_size"]
    ids = list(range(len(images))) if indices is None else indices
    blocks = max(1, -(-len(ids) // batch_size))
    ds = ray.data.from_items([{"id": int(i)} for i in ids], override_num_blocks=blocks)
    pre_ref = ray.put(net.preprocess)
    ds = ds.map_batches(read_batch, batch_size=batch_size, batch_format="numpy", num_cpus=0.5,
                        fn_kwargs={"images": ray.put(images), "preprocess": pre_ref, "start": 0})
    n_actors, gpus = actor_pool(ray, how["actors"])
    return ds.map_batches(
        ConceptWorker, batch_size=batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=n_actors), num_gpus=gpus, num_cpus=1,
        fn_constructor_kwargs={"model": ray.put(model_for_workers(net)), "preprocess": pre_ref,
                               "backend": net.extractor.backend, "plan": plan, "work": work})


def stream_ray(net: Network, images: Collection, indices: list[int] | None, plan: Plan,
               work: Work, how: dict[str, Any], desc: str,
               absorb: Callable[[dict[str, Any]], None]) -> bool:
    """``absorb`` every batch's part, computed on Ray, in order; True when Ctrl-C stopped it."""
    total = len(images) if indices is None else len(indices)
    if total == 0:
        return False
    ray = require_ray()
    with ordered(ray):
        ds = _dataset(ray, net, images, indices, plan, work, how)
        with progress_bar(total, 0, how["progress"], desc + " (ray)") as bar:
            rows = iter(ds.iter_rows())
            try:
                for row in rows:
                    part = pickle.loads(row["payload"])
                    absorb(part)
                    bar.update(part["count"])
            except KeyboardInterrupt:
                return True
            finally:
                getattr(rows, "close", lambda: None)()
    return False
