"""What the concepts' page module (``frontend/concepts.js``) reads: built once for the widget and the export.

- :func:`concepts_meta`: sent once: the network, the layer, each concept's colour, scale,
  loadings and top channels, its top patches over the collection (small PNG data URIs), the
  images' names;
- :func:`maps_payload`: sent once per image: the concepts' maps (n, h, w) as 8-bit levels,
  each map over its own largest value, then those largest values as float32. The page
  composites (strength = level / 255 × largest / scale) so that picking or hiding a concept
  never waits for the kernel. :func:`maps_from_payload` reads the bytes back.

>>> import numpy as np
>>> maps = np.array([[[0.0, 2.0]], [[1.0, 0.5]]], np.float32)            # (2, 1, 2)
>>> meta, data = maps_payload(maps)
>>> meta["shape"], len(data), np.allclose(maps_from_payload(meta, data), maps, atol=2 / 255)
([2, 1, 2], 12, True)
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..pixels.png import to_png

__all__ = ["concepts_meta", "maps_payload", "maps_from_payload", "picture_uri", "image_names",
           "LEGEND_CHANNELS", "PATCHES", "PATCH_PX"]

#: Channels named per concept in the legend.
LEGEND_CHANNELS = 3
#: Top patches shown per concept, at most; each at most PATCH_PX on its longer side.
PATCHES = 6
PATCH_PX = 72
#: Small pictures are shown enlarged by an integer factor up to about this width (CSS px).
DISPLAY_PX = 454


def picture_uri(rgb: np.ndarray) -> str:
    """An (H, W, 3) uint8 picture as a PNG data URI."""
    return "data:image/png;base64," + base64.b64encode(to_png(np.ascontiguousarray(rgb))).decode("ascii")


def image_names(concepts: Any, limit: int, names: Any = None) -> list[tuple[str, int]]:
    """(name, index) of the first ``limit`` images of the collection that have maps: their
    ``names[i]`` where given, else the file's name where it is one, else ``image i`` (made
    unique)."""
    out: list[tuple[str, int]] = []
    seen: set[str] = set()
    if concepts.source is None or not len(concepts.maps):
        return out
    if names is not None and len(names) != concepts.n_images:
        raise ValueError(f"names: give one name per image of the collection ({concepts.n_images}), "
                         f"not {len(names)}")
    for i in np.flatnonzero(concepts.has_maps)[:max(0, int(limit))].tolist():
        path = concepts.source.path(i)
        name = str(names[i]) if names is not None else Path(path).name if path else f"image {i}"
        if name in seen:
            name = f"{name} ({i})"
        seen.add(name)
        out.append((name, int(i)))
    return out


def _patches(concepts: Any, i: int, k: int, names: Any = None) -> list[dict[str, str]]:
    """Concept ``i``'s top ``k`` patches over the collection as small PNG data URIs."""
    if concepts.table is None or concepts.source is None or k <= 0:
        return []
    out = []
    for entry in concepts.top(i, k):
        patch = entry.patch(concepts.source)
        im = Image.fromarray(np.ascontiguousarray(patch))
        im.thumbnail((PATCH_PX, PATCH_PX), Image.Resampling.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, "PNG")
        where = (str(names[entry.index]) if names is not None else Path(entry.path).name
                 if entry.path else f"image {entry.index}")
        out.append({"src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
                    "caption": f"{where} · {entry.score:.3g}"})
    return out


def concepts_meta(concepts: Any, images: list[str], *, patches: int = PATCHES,
                  names: Any = None, kernel: bool = True) -> dict[str, Any]:
    """What the module needs to know once (see the module's docstring). ``names``: the
    collection's images' names (for the patches' captions); ``kernel``: whether a kernel
    answers (the feature visualisation buttons)."""
    net, ld = concepts.net, np.asarray(concepts.loadings, np.float64)
    legend = []
    for i in range(concepts.n):
        top = concepts.top_channels(i, LEGEND_CHANNELS)
        total = float(ld[i].sum()) or 1.0
        legend.append({"channels": top, "shares": [round(float(ld[i, c]) / total, 4) for c in top],
                       "patches": _patches(concepts, i, patches, names)})
    return {
        "net": {"name": net.name, "weights": net.weights, "pretrained": bool(net.pretrained),
                "input": list(net.input_size)},
        "layer": concepts.layer, "stage": concepts.stage, "n": concepts.n,
        "channels": concepts.channels, "explained": round(float(concepts.explained), 4),
        "n_images": concepts.n_images, "colors": concepts.colors.tolist(),
        "scale": [float(s) for s in np.asarray(concepts.scale, np.float32)],
        "loadings": [[round(float(v), 6) for v in row] for row in ld],
        "legend": legend, "images": list(images), "display": DISPLAY_PX, "kernel": kernel,
    }


def maps_payload(maps: np.ndarray, **key: Any) -> tuple[dict[str, Any], bytes]:
    """One image's maps (n, h, w) ≥ 0 for the module: ``key``'s entries and the shape, and
    the bytes: the levels (n·h·w uint8, each map over its largest value), then n float32."""
    maps = np.asarray(maps, np.float32)
    top = maps.reshape(len(maps), -1).max(axis=1, initial=0.0).astype(np.float32)
    top = np.maximum(top, 0.0)
    safe = np.where(top > 0, top, 1.0).reshape(-1, 1, 1)
    levels = np.clip(np.floor(maps / safe * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return {**key, "shape": [int(v) for v in maps.shape]}, levels.tobytes() + top.astype("<f4").tobytes()


def maps_from_payload(meta: dict[str, Any], data: bytes) -> np.ndarray:
    """The maps the page works with: the levels times each map's largest value over 255."""
    n, h, w = meta["shape"]
    levels = np.frombuffer(data, np.uint8, n * h * w).reshape(n, h, w)
    top = np.frombuffer(data, "<f4", n, offset=n * h * w).astype(np.float32)
    return levels.astype(np.float32) * (top / 255.0).reshape(-1, 1, 1)
