"""Concepts as colours over the image: one colour per concept, its strength as opacity.

Each concept's map (h, w) is divided by its ``scale`` (its largest value over the
collection, so that a strength of 1 is the concept at its strongest anywhere), enlarged to
the picture (bilinear, :func:`actwidgets.pixels.resize`) and clipped to [0, 1]. Each pixel
takes the mix of the concepts' colours weighted by their strengths, laid over the image with
opacity ``alpha`` × the strongest concept there: where no concept is, the photo shows.

>>> import numpy as np
>>> maps = np.zeros((2, 2, 2), np.float32); maps[0, 0, 0] = 1; maps[1, 1, 1] = 2
>>> pic = concept_picture(np.zeros((4, 4, 3), np.uint8), maps, np.array([1.0, 2.0]), alpha=1.0)
>>> pic[0, 0].tolist() == concept_colors(2)[0].tolist(), pic[3, 3].tolist() == concept_colors(2)[1].tolist()
(True, True)
"""

from __future__ import annotations

import numpy as np

from ..pixels.color import colormap_lut
from ..pixels.resize import resize

__all__ = ["concept_colors", "concept_picture", "strengths"]


def concept_colors(n: int) -> np.ndarray:
    """(n, 3) uint8: matplotlib's ``tab10`` colours, then ``hsv`` steps beyond ten concepts."""
    tab = colormap_lut("tab10")[np.round(np.linspace(0, 255, 10) * 0.9 + 12).astype(int)]
    if n <= 10:
        return tab[:n].copy()
    extra = colormap_lut("hsv")[np.linspace(0, 255, n - 10, endpoint=False).astype(int)]
    return np.concatenate([tab, extra])


def strengths(maps: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(n, h, w) float32 in [0, 1]: each map over its concept's scale (0 where it is 0)."""
    s = np.asarray(scale, np.float32).reshape(-1, 1, 1)
    out = np.divide(maps, s, out=np.zeros(maps.shape, np.float32), where=s > 0)
    return np.clip(out, 0.0, 1.0)


def concept_picture(picture: np.ndarray, maps: np.ndarray, scale: np.ndarray, *,
                    which: list[int] | None = None, alpha: float = 0.8,
                    colors: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) uint8: the concepts ``which`` (default all) of ``maps`` (n, h, w) as colours
    over ``picture`` (H, W, 3) uint8 (see the module's docstring)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    n = maps.shape[0]
    which = list(range(n)) if which is None else [int(i) for i in which]
    bad = [i for i in which if not 0 <= i < n]
    if bad:
        raise IndexError(f"there are {n} concepts (0..{n - 1}), not {bad[0]}")
    colors = concept_colors(n) if colors is None else np.asarray(colors, np.uint8)
    H, W = picture.shape[:2]
    s = strengths(maps[which], scale[which])
    big = np.stack([resize(m, (H, W), method="bilinear") for m in s]) if which else np.zeros((0, H, W))
    big = np.clip(big, 0.0, 1.0)
    total = big.sum(axis=0)
    mix = np.einsum("khw,kc->hwc", big, colors[which].astype(np.float32))
    mix /= np.maximum(total, 1e-12)[..., None]
    opacity = (alpha * big.max(axis=0, initial=0.0))[..., None]
    out = picture.astype(np.float32) * (1.0 - opacity) + mix * opacity
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
