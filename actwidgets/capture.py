"""``activations()``: what a layer holds for an image, like MATLAB's ``activations(net, im, layer)``.

Values are cached per (picture, point, weights version) in the network's byte-bounded LRU
cache, so a widget can flip channels and stages without a new forward pass.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> aw.activations(net, aw.sample_image("face"), "conv1").shape
(64, 113, 113)
>>> both = aw.activations(net, aw.sample_image("face"), "conv1", stage="both")
>>> sorted(both), bool((both["post"] == both["pre"].clip(min=0)).all())
(['post', 'pre'], True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .model.layers import LayerInfo
from .model.network import Network

__all__ = ["activations", "LAYOUTS"]

#: What ``activations(..., layout=)`` takes.
LAYOUTS = ("map", "native", "extra")


def _is_batch(image: Any) -> bool:
    if isinstance(image, (list, tuple)):
        return True
    ndim = getattr(image, "ndim", None)
    return ndim == 4


def _digest(picture: np.ndarray) -> str:
    return hashlib.blake2b(picture.tobytes(), digest_size=16).hexdigest() + str(picture.shape)


def _to_numpy(value: torch.Tensor) -> np.ndarray:
    if value.dtype == torch.float32 and value.device.type == "cpu" and not value.requires_grad:
        return value.numpy()  # the usual case: no copy, no conversion
    return value.detach().float().cpu().numpy()


def cached_activations(
    net: Network, pictures: Sequence[np.ndarray], points: Sequence[str]
) -> list[dict[str, np.ndarray]]:
    """Read-only (C, H, W) float32 arrays per picture and point; one forward pass at most.

    ``pictures`` are at the network's input size (from ``net.image``). The arrays are the
    cache's own: do not write to them (they are marked read-only). A value is cached per
    picture, except where it depends on the rest of the batch (a BatchNorm without running
    statistics): there the whole batch is part of its key.
    """
    with net.checked():
        state = net.state_key()
        digests = tuple(_digest(p) for p in pictures)
        ext = net.extractor
        mixed = ext.batch_dependent(points) if len(pictures) > 1 else frozenset()
        mixed = {p for p in points if ext.point(p).name in mixed}

        def key(i: int, point: str) -> tuple:
            return (digests, i, state, point) if point in mixed else (digests[i], state, point)

        results: list[dict[str, np.ndarray]] = [{} for _ in pictures]
        todo: list[int] = []
        for i in range(len(pictures)):
            for point in points:
                hit = net.cache.get(key(i, point))
                if hit is None:
                    todo.append(i)
                    break
                results[i][point] = hit
        if todo and mixed:  # a value that depends on the batch is computed with all of it
            todo = list(range(len(pictures)))
        if todo:
            _compute(net, pictures, points, todo, key, results)
    return results


def _compute(net: Network, pictures: Sequence[np.ndarray], points: Sequence[str],
             todo: list[int], key: Any, results: list[dict[str, np.ndarray]]) -> None:
    """Run the pictures ``todo`` in one batch and cache each value under ``key(i, point)``."""
    out = net.extractor.run(_batch(net, [pictures[i] for i in todo]),
                            list(dict.fromkeys(points)), maps=True)
    for point, value in out.items():
        arr = _to_numpy(value)
        for j, i in enumerate(todo):
            item = np.ascontiguousarray(arr[j])
            item.flags.writeable = False
            net.cache.put(key(i, point), item)
            results[i][point] = item


def _batch(net: Network, pictures: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.stack([net.preprocess.from_picture(p) for p in pictures]).to(net.device, net.dtype)


def activations(
    net: Network,
    image: Any,
    layer: str | int | LayerInfo | Sequence[str | int | LayerInfo],
    stage: str | None = None,
    *,
    layout: str = "map",
) -> np.ndarray | dict[str, Any]:
    """The activations of ``layer`` for ``image`` as a float32 array (channels, height, width).

    - ``image``: a path, PIL image, numpy array (H×W, H×W×3, H×W×4; uint8 or float in
      [0, 1]) or tensor; a list of them (or an (N, H, W, 3) array) gives a batch axis first.
    - ``layer``: a name (``"fire6-squeeze1x1"``, ``"features.3.squeeze"``), an index into
      ``net.layers``, a :class:`LayerInfo`, or a list of them or a block (``"fire6"``), which
      return a dict name → array, all from one forward pass.
    - ``stage``: ``"pre"`` (before the activation), ``"post"`` (after it), None for the
      layer's default (``"post"``, but ``"pre"`` for MATLAB's conv names, as in MATLAB), or
      ``"both"``: ``{"pre": array, "post": array}`` per layer, from the same forward pass. A
      layer with no activation right after it (a pool) has one stage, ``"post"``: ``"pre"`` is
      refused there, and ``"both"`` gives its one value under both keys.
    - ``layout``: ``"map"`` (default) gives (C, H, W) whatever the model's layout: token
      sequences as their h×w grid, channels-last values transposed, vectors as C×1×1.
      ``"native"`` gives the value as the model holds it (ViT: (197, 768)); ``"extra"`` gives
      a token layer's leading class, distillation or register tokens, (k, C).

    The returned arrays are yours: a request for one layer is served by the cache and
    copied out of it; a list of layers is computed in one pass and handed over without a copy
    (a layer without stages then gives the same array as "pre" and "post").
    """
    if not isinstance(net, Network):
        raise TypeError(
            f"activations takes an actwidgets.Network first, got {type(net).__name__}; "
            "use actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    with net.checked():  # the model is checked for changes once, whatever the layers asked
        return _activations(net, image, layer, stage, layout)


def _activations(net: Network, image: Any, layer: Any, stage: str | None,
                 layout: str) -> np.ndarray | dict[str, Any]:
    sel = net.layers.select(layer, stage)  # the one reading of layer and stage
    points = {(key, s): info.point(s) for key, info, stages in sel for s in stages}
    batch = _is_batch(image)
    images = list(image) if batch else [image]
    if not images:
        raise ValueError("the batch of images is empty")
    pictures = [net.image(im) for im in images]
    unique = sel.points()
    if layout == "map" and sel.single:  # a widget-sized request: served by the cache
        found = cached_activations(net, pictures, unique)
        values = {p: np.stack([f[p] for f in found]) if batch else found[0][p].copy()
                  for p in unique}
        if stage == "both":  # a layer without stages: one value, a copy of its own each
            pre, post = points[(sel.keys[0], "pre")], points[(sel.keys[0], "post")]
            return {"pre": values[pre], "post": values[post].copy() if pre == post else values[post]}
        return values[unique[0]]
    # Many layers: computed afresh and handed over as they come (copying every value out of
    # a cache costs more than the forward pass); a layer without stages gives one array twice.
    fresh = _fresh(net, pictures, unique, layout)
    values = fresh if batch else {p: v[0] for p, v in fresh.items()}

    def per_layer(key: str, stages: tuple[str, ...]) -> Any:
        if stage == "both":
            return {s: values[points[(key, s)]] for s in stages}
        return values[points[(key, stages[0])]]

    out = {key: per_layer(key, stages) for key, _, stages in sel}
    return out[sel.keys[0]] if sel.single else out


def _fresh(net: Network, pictures: Sequence[np.ndarray], points: list[str],
           layout: str) -> dict[str, np.ndarray]:
    """Each point's values for the batch, with the batch axis, as arrays of their own."""
    out = net.extractor.run(_batch(net, pictures), points, maps=layout == "map")
    result, seen = {}, set()
    for p, v in out.items():
        if layout == "extra":
            try:
                v = net.extractor.point(p).layout.extra_tokens(v)
            except ValueError as exc:
                raise ValueError(f"{p}: {exc}; layout='extra' is for ViT-style token layers") from None
        key = v.data_ptr()
        if key in seen:  # two points holding one tensor: each array is the caller's own
            v = v.clone()
        seen.add(key)
        result[p] = _to_numpy(v)
    return result
