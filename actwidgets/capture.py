"""``activations()``: what a layer holds for an image, like MATLAB's ``activations(net, im, layer)``.

Values are cached per (picture, point, weights version) in the network's byte-bounded LRU
cache, so a widget can flip channels and stages without a new forward pass.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> aw.activations(net, aw.sample_image("face"), "conv1").shape
(64, 113, 113)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .zoo import Network

__all__ = ["activations"]


def _is_batch(image: Any) -> bool:
    if isinstance(image, (list, tuple)):
        return True
    ndim = getattr(image, "ndim", None)
    return ndim == 4


def _weights_version(net: Network) -> int:
    # Every in-place change of a parameter (an optimiser step) bumps its version counter.
    return sum(p._version for p in net.model.parameters()) + sum(
        b._version for b in net.model.buffers()
    )


def _digest(picture: np.ndarray) -> str:
    return hashlib.blake2b(picture.tobytes(), digest_size=16).hexdigest() + str(picture.shape)


def cached_activations(
    net: Network, pictures: Sequence[np.ndarray], points: Sequence[str]
) -> list[dict[str, np.ndarray]]:
    """Read-only (C, H, W) float32 arrays per picture and point; one forward pass at most.

    ``pictures`` are at the network's input size (from ``net.image``). The arrays are the
    cache's own: do not write to them (they are marked read-only).
    """
    version = _weights_version(net)
    keys = [(_digest(p), version) for p in pictures]
    results: list[dict[str, np.ndarray]] = [{} for _ in pictures]
    todo: list[int] = []
    for i, key in enumerate(keys):
        for point in points:
            hit = net.cache.get((key, point))
            if hit is None:
                todo.append(i)
                break
            results[i][point] = hit
    if todo:
        x = torch.stack([net.preprocess.from_picture(pictures[i]) for i in todo]).to(net.device)
        wanted = list(dict.fromkeys(points))
        out = net.extractor.run(x, wanted)
        for point, value in out.items():
            arr = value.detach().float().cpu().numpy()
            if arr.ndim == 2:  # (N, C) from a linear layer: C maps of 1×1
                arr = arr[:, :, None, None]
            for j, i in enumerate(todo):
                item = np.ascontiguousarray(arr[j])
                item.flags.writeable = False
                net.cache.put((keys[i], point), item)
                results[i][point] = item
    return results


def activations(
    net: Network,
    image: Any,
    layer: str | Sequence[str],
    stage: str | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """The activations of ``layer`` for ``image`` as a float32 array (channels, height, width).

    - ``image``: a path, PIL image, numpy array (H×W, H×W×3, H×W×4; uint8 or float in
      [0, 1]) or tensor; a list of them (or an (N, H, W, 3) array) gives a batch axis first.
    - ``layer``: a name (``"fire6-squeeze1x1"``, ``"features.3.squeeze"``) or a list of names,
      which returns a dict name → array, all from one forward pass.
    - ``stage``: ``"pre"`` (before the activation), ``"post"`` (after it), or None for the
      layer's default (``"post"``, but ``"pre"`` for MATLAB's conv names, as in MATLAB).

    The returned arrays are yours (copies); the cache keeps its own.
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"activations takes an actwidgets.Network first, got {type(net).__name__}; "
            "use actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
        )
    names = [layer] if isinstance(layer, str) else list(layer)
    if not names:
        raise ValueError("layer is empty: give a layer name or a list of names")
    points = {name: net.layers.resolve(name, stage) for name in names}
    batch = _is_batch(image)
    images = list(image) if batch else [image]
    if not images:
        raise ValueError("the batch of images is empty")
    pictures = [net.image(im) for im in images]
    found = cached_activations(net, pictures, list(points.values()))

    def gather(name: str) -> np.ndarray:
        arrays = [f[points[name]] for f in found]
        return np.stack(arrays) if batch else arrays[0].copy()

    if isinstance(layer, str):
        return gather(layer)
    return {name: gather(name) for name in names}
