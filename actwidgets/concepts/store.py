"""Concepts saved to one ``.npz`` file and loaded back, refused on another network or layer.

The file holds plain arrays (loadings, maps, scales, which images have maps, the top-cell
table) and a JSON header (no pickles: ``np.load(..., allow_pickle=False)`` reads it): the
layer and stage, the sample's description, and a fingerprint of what the concepts were
computed on: the model's name, weights and a digest of their values, its preprocessing, the
layer's channels and map size, and the image collection's fingerprint (as the atlas keeps).
:func:`load` refuses a network that differs, with a sentence naming the way out; the images
come back where they can (a folder, a list of files, or ``images=`` given again, checked).

>>> import actwidgets as aw, tempfile, os
>>> net = aw.load_model("squeezenet", weights=None)
>>> c = aw.layer_concepts(net, "face", "fire6-relu_squeeze1x1", n=3, progress=False)
>>> path = c.save(os.path.join(tempfile.mkdtemp(), "face.npz"))
>>> back = aw.Concepts.load(path, net)
>>> bool((back.loadings == c.loadings).all()), back.picture(0).shape
(True, (227, 227, 3))
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["save", "load", "ConceptsFileError", "FORMAT", "network_fingerprint"]

#: The ``format`` of a concepts file's header.
FORMAT = "actwidgets.concepts/1"
_TABLE = ("index", "cell", "size", "max", "mean")


class ConceptsFileError(ValueError):
    """A concepts file that cannot be used: missing, damaged, or made on another network."""


def _digest(net: Any) -> str:
    h = hashlib.blake2b(digest_size=16)
    for name, t in net.model.state_dict().items():
        h.update(name.encode())
        data = t.detach().reshape(-1).contiguous().cpu()
        h.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return h.hexdigest()


def network_fingerprint(net: Any, layer: str, stage: str) -> dict[str, Any]:
    """What concepts of ``layer`` depend on: the model, its weights' values, its
    preprocessing, the layer's channels and map size."""
    info = net.layers.get(layer)
    p = net.extractor.point(info.point(stage))
    return {"model": net.name, "weights": net.weights, "weights_digest": _digest(net),
            "preprocess": repr(net.preprocess), "input_size": list(net.input_size),
            "layer": info.name, "stage": stage, "channels": int(p.channels), "map_size": list(p.size)}


def save(concepts: Any, path: str | os.PathLike) -> Path:
    """Write ``concepts`` to ``path`` (``.npz``; written whole, then moved into place)."""
    path = Path(path).expanduser()
    if path.suffix.lower() != ".npz":
        raise ValueError(f"concepts are saved as .npz; give a path ending in .npz, got {path.name!r}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path.name!r}: the folder {str(path.parent)!r} does "
                                "not exist; create it first (os.makedirs(folder))")
    c, src = concepts, concepts.source
    paths = [src.path(i) for i in range(len(src))] if src is not None else []
    s = c.sample
    meta = {
        "format": FORMAT, "network": network_fingerprint(c.net, c.layer, c.stage), "n": c.n,
        "explained": c.explained, "n_images": c.n_images, "projected": c.projected,
        "skipped": {"count": c.skipped.count, "names": list(c.skipped.names)},
        "sample": {"positions": s.positions, "images": s.images, "seed": s.seed,
                   "explained": s.explained, "iterations": s.iterations, "converged": s.converged},
        "images": {"kind": getattr(src, "kind", None), "fingerprint": c._fingerprint(),
                   "root": str(src.root) if src is not None and src.root is not None else None,
                   "paths": paths if paths and all(paths) else None},
        "table": c.table is not None,
    }
    arrays = {"meta": np.array(json.dumps(meta)), "loadings": c.loadings, "maps": c.maps,
              "scale": c.scale, "has_maps": np.asarray(c.has_maps, bool),
              "sample_indices": np.asarray(s.indices, np.int64)}
    if c.table is not None:
        arrays.update({f"table/{k}": c.table[k] for k in _TABLE})
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    os.replace(tmp, path)
    return path


def _refuse_network(meta: dict[str, Any], net: Any) -> None:
    """A sentence naming what differs between the file's network and ``net``, and the way out."""
    saved = meta["network"]
    try:
        now = network_fingerprint(net, saved["layer"], saved["stage"])
    except Exception as exc:  # noqa: BLE001 - a network without that layer
        raise ConceptsFileError(
            f"these concepts are of layer {saved['layer']!r} of {saved['model']} "
            f"({saved['weights']}), which this network ({net.name}) cannot give ({exc}): load "
            f"them with the network they were computed on, or compute them again with "
            f"aw.layer_concepts(net, images, {saved['layer']!r})") from None
    words = {"weights_digest": "weights' values", "preprocess": "preprocessing",
             "map_size": "map size", "input_size": "input size"}
    differ = [k for k in saved if saved[k] != now.get(k)]
    if differ:
        raise ConceptsFileError(
            f"these concepts were computed on {saved['model']} ({saved['weights']}), and this "
            f"network differs in its {', '.join(words.get(k, k) for k in differ)}: load them with "
            f"the network they were computed on (aw.load_model({saved['model']!r}, "
            f"weights=...)), or compute them again for this one with aw.layer_concepts(net, "
            f"images, {saved['layer']!r}, n={meta.get('n', '...')})")


def _source(meta: dict[str, Any], images: Any) -> Any:
    """The collection back: ``images`` (checked), else the saved folder or files (if they
    are unchanged), else None."""
    from ..atlas.sources import collection

    saved = meta["images"]
    if images is not None:
        from .collect import _collection

        coll = _collection(images)
        if coll.fingerprint() != saved["fingerprint"]:
            raise ConceptsFileError(
                f"images: these are not the {meta['n_images']} images the concepts were computed "
                "on (their list, sizes or dates differ): pass those, or none (the concepts load "
                "without their pictures)")
        return coll
    try:
        coll = collection(saved["root"] if saved["kind"] == "folder" and saved["root"] else saved["paths"])
        return coll if coll.fingerprint() == saved["fingerprint"] else None
    except Exception:  # noqa: BLE001 - moved, deleted or never files: load without them
        return None


def load(cls: type, path: str | os.PathLike, net: Any, images: Any = None) -> Any:
    """The concepts in ``path`` (written by :func:`save`) for ``net``; see the module."""
    from ..atlas.store import Skipped
    from .record import Sample

    path = Path(path).expanduser()
    way = (". Compute the concepts again with aw.layer_concepts(...) and concepts.save(path).")
    if not path.is_file():
        raise ConceptsFileError(f"{path}: no such concepts file{way}")
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else None
                raise ConceptsFileError(f"{path}: this is no concepts file of this version "
                                        f"(format {found!r}){way}")
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except ConceptsFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file, whatever numpy says
        raise ConceptsFileError(f"{path}: this is no concepts file, or it is damaged "
                                f"({type(exc).__name__}){way}") from None
    _refuse_network(meta, net)
    s, net_meta = meta["sample"], meta["network"]
    table = {k: arrays[f"table/{k}"] for k in _TABLE} if meta["table"] else None
    return cls(
        layer=net_meta["layer"], stage=net_meta["stage"], loadings=arrays["loadings"],
        maps=arrays["maps"], explained=float(meta["explained"]),
        sample=Sample(positions=s["positions"], images=s["images"],
                      indices=tuple(int(i) for i in arrays["sample_indices"]), seed=s["seed"],
                      explained=s["explained"], iterations=s["iterations"], converged=s["converged"]),
        n_images=int(meta["n_images"]), projected=int(meta["projected"]),
        skipped=Skipped(meta["skipped"]["count"], meta["skipped"]["names"]),
        scale=arrays["scale"], has_maps=arrays["has_maps"], table=table, net=net,
        source=_source(meta, images))
