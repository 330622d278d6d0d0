"""Receptive fields, measured on the model itself, and their boxes in the original image.

The receptive field of a cell of a layer's (C, h, w) map is the box of input pixels that can
change it. Where the network is a chain of known convolutions, poolings and point-wise ops
(traced by torch.fx), :func:`receptive_field` reads it from the graph (:mod:`._analytic`,
a fraction of a second for all layers); otherwise it measures it by back-propagation: it
runs a batch of copies of a random input, takes the sum over channels at one cell per copy,
and keeps the box of input pixels whose gradient is not zero. Nothing is typed in per model:
padding, strides, dilation, pooling, concatenations and residual sums are all in the
gradient; a layer after global pooling or attention gets the whole input. Boxes are taken
for the cells of the diagonal (row t and column t together) and stored per row and per
column, which is exact for any network whose geometry is separable in y and x (every CNN; a
ViT's whole-input fields).

On a large map, a sample of 16 diagonal cells (both ends and a spread between) is measured
first; where their box edges lie on lines (clipped at the input's borders), as a network of
convolutions and poolings makes them, the other cells follow from those lines. Otherwise
every diagonal cell is measured for another random input, and the boxes united, until they
do (up to four inputs): a ReLU or a max-pool that happens to block a path for one input
shrinks a box off its line, and another input opens that path. A box is half-open, in
network-input pixels; :class:`Geometry` maps it through the preprocessing (resize, centre
crop) back to the pixels of the original image.

>>> import torch
>>> from torch import nn
>>> import actwidgets as aw
>>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2))
>>> net = aw.Network.wrap(model, input_size=16)
>>> field = receptive_field(net, "2")
>>> field.box((0, 0)), field.box((1, 2))          # (x0, y0, x1, y1): 5×5 pixels, stride 2
((0, 0, 5, 5), (4, 2, 9, 7))
>>> Geometry.of(aw.Preprocess(size=16, resize=32)).to_image((4, 2, 9, 7), (64, 96), (64, 96))
(40, 20, 50, 30)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..extract import preserve_model_state
from ..model.network import Network
from ..model.preprocess import Preprocess
from ._analytic import spans

__all__ = ["Field", "receptive_field", "Geometry"]

#: Copies of the input per backward pass.
_CHUNK = 16
#: The random inputs whose boxes are united, as many as needed.
_SEEDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Field:
    """The receptive fields of a layer's map cells, in network-input pixels (half-open).

    ``rows[y]`` is (y0, y1) for map row y, ``cols[x]`` is (x0, x1) for map column x.
    """

    rows: np.ndarray
    cols: np.ndarray
    input_size: tuple[int, int]

    @property
    def map_size(self) -> tuple[int, int]:
        return int(self.rows.shape[0]), int(self.cols.shape[0])

    def box(self, cell: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) of the map cell (y, x), in network-input pixels."""
        y, x = int(cell[0]), int(cell[1])
        (y0, y1), (x0, x1) = self.rows[y], self.cols[x]
        return int(x0), int(y0), int(x1), int(y1)

    def centre(self, cell: tuple[int, int]) -> tuple[float, float]:
        """(x, y) of the cell's centre, in network-input pixels (cells tile the input)."""
        (h, w), (H, W) = self.map_size, self.input_size
        return (int(cell[1]) + 0.5) * W / w, (int(cell[0]) + 0.5) * H / h

    @property
    def extent(self) -> tuple[int, int]:
        """The largest (height, width) of a box: the field's size away from the borders."""
        return (int((self.rows[:, 1] - self.rows[:, 0]).max()),
                int((self.cols[:, 1] - self.cols[:, 0]).max()))

    def covers_input(self) -> bool:
        """Whether every cell sees the whole input (after global pooling, attention)."""
        H, W = self.input_size
        return bool((self.rows == [0, H]).all() and (self.cols == [0, W]).all())


def _spans(mask: torch.Tensor) -> np.ndarray:
    """(first, last + 1) of the True entries of each row of ``mask``; (-1, -1) when none."""
    n = mask.shape[1]
    pos = torch.arange(n, device=mask.device)
    first = torch.where(mask, pos, n).min(dim=1).values
    last = torch.where(mask, pos, -1).max(dim=1).values
    out = torch.stack([first, last + 1], dim=1).cpu().numpy().astype(np.int64)
    out[first.cpu().numpy() >= n] = -1
    return out


def _unite(into: np.ndarray, where: Sequence[int], spans: np.ndarray) -> None:
    for i, (a, b) in zip(where, spans, strict=True):
        if a < 0:
            continue
        lo, hi = into[i]
        into[i] = (a, b) if lo < 0 else (min(lo, a), max(hi, b))


def _measure(net: Network, point: str, cells: Sequence[tuple[int, int]], seed: int,
             rows: np.ndarray, cols: np.ndarray) -> None:
    """Unite into ``rows``/``cols`` the boxes of ``cells`` (y, x) for one random input."""
    H, W = net.input_size
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(1, net.preprocess.channels, H, W, generator=gen)
    dtype = net.dtype
    for start in range(0, len(cells), _CHUNK):
        chunk = cells[start:start + _CHUNK]
        x = base.expand(len(chunk), -1, -1, -1).to(net.device, dtype).clone().requires_grad_(True)
        value = net.extractor.run(x, [point], grad=True, maps=True)[point]
        ys = torch.tensor([c[0] for c in chunk], device=value.device)
        xs = torch.tensor([c[1] for c in chunk], device=value.device)
        picked = value[torch.arange(len(chunk), device=value.device), :, ys, xs]
        (grad,) = torch.autograd.grad(picked.float().sum(), x)
        seen = grad.detach().abs().sum(dim=1) > 0          # (B, H, W)
        _unite(rows, [c[0] for c in chunk], _spans(seen.any(dim=2)))
        _unite(cols, [c[1] for c in chunk], _spans(seen.any(dim=1)))


def _sample(n: int) -> list[int]:
    """The cells measured first: both ends and a spread between (all when few)."""
    if n <= _CHUNK:
        return list(range(n))
    return sorted({0, 1, 2, 3, n - 4, n - 3, n - 2, n - 1,
                   *np.linspace(4, n - 5, _CHUNK - 8).round().astype(int).tolist()})


def _side(i: np.ndarray, v: np.ndarray, n: int, clip: int) -> np.ndarray | None:
    """One side of the boxes, ``v`` measured at cells ``i``, for all ``n`` cells: the line
    through the unclipped values, clipped at ``clip``; None when it misses a measurement."""
    free = v != clip
    if free.sum() >= 2:
        (a, b), (va, vb) = i[free][[0, -1]], v[free][[0, -1]]
        line = va + (np.arange(n) - a) * (vb - va) / (b - a)
    elif not free.any():
        line = np.full(n, float(clip))
    else:
        return None
    out = np.round(np.minimum(line, clip) if clip > 0 else np.maximum(line, clip)).astype(np.int64)
    return out if (out[i] == v).all() else None


def _lines(done: np.ndarray, limit: int) -> np.ndarray | None:
    """Every cell's (start, end) from the measured ones, where both lie on lines."""
    i = np.flatnonzero(done[:, 0] >= 0)
    if not len(i):
        return None
    lo, hi = _side(i, done[i, 0], len(done), 0), _side(i, done[i, 1], len(done), limit)
    return None if lo is None or hi is None else np.stack([lo, hi], axis=1)


def _diagonal(n_rows: int, n_cols: int, which: Sequence[int]) -> list[tuple[int, int]]:
    return [(min(t, n_rows - 1), min(t, n_cols - 1)) for t in which]


def _measure_all(net: Network, point: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns: a sample of cells, then every diagonal cell for more random inputs
    (boxes united) until the box edges lie on lines; after ``_SEEDS`` inputs, as measured."""
    (h, w), (H, W) = size, net.input_size
    rows = np.full((h, 2), -1, dtype=np.int64)
    cols = np.full((w, 2), -1, dtype=np.int64)
    for attempt, seed in enumerate(_SEEDS):
        which = _sample(max(h, w)) if attempt == 0 else range(max(h, w))
        _measure(net, point, _diagonal(h, w, which), seed, rows, cols)
        full_rows, full_cols = _lines(rows, H), _lines(cols, W)
        if full_rows is not None and full_cols is not None:
            return full_rows, full_cols
    return rows, cols


def receptive_field(net: Network, layer: str, stage: str | None = "pre", *,
                    measure: bool = False) -> Field:
    """The receptive fields of ``layer``'s map cells (see the module's docstring).

    Where every op before the layer is a known convolution, pooling or point-wise op, the
    fields are read from the graph (:mod:`._analytic`: one forward pass of one image for
    all layers, no backward); otherwise, or with ``measure=True``, they are measured. Both
    stages of a layer share one geometry: the ``pre`` point is measured (the gradient of a
    ReLU's output is zero where it is off). A cell no gradient reaches (a constant output)
    gets the whole input, with a warning.
    """
    info = net.layers.get(layer)
    point = info.point(stage)
    size = net.extractor.point(point).size
    H, W = net.input_size
    read = None if measure else spans(net, point)
    if read is not None:
        return Field(read[0].astype(np.int32), read[1].astype(np.int32), (H, W))
    try:
        with preserve_model_state(net.model, freeze=True):
            rows, cols = _measure_all(net, point, size)
    except RuntimeError as exc:  # a point autograd cannot go through (integer values, ...)
        why = f"it cannot be measured ({str(exc).splitlines()[0]})"
        rows, cols = np.full((size[0], 2), -1), np.full((size[1], 2), -1)
    else:
        why = "some of its cells depend on no input pixel"
    if (rows < 0).any() or (cols < 0).any():
        warnings.warn(f"receptive field of {layer!r}: {why}; those boxes are the whole input",
                      RuntimeWarning, stacklevel=2)
        rows[rows[:, 0] < 0] = (0, H)
        cols[cols[:, 0] < 0] = (0, W)
    return Field(rows.astype(np.int32), cols.astype(np.int32), (H, W))


@dataclass(frozen=True)
class Geometry:
    """How the preprocessing placed the original image in the network input.

    ``size`` and ``resize`` are :class:`~actwidgets.Preprocess`'s; ``known`` is False for a
    callable preprocessing whose resize and crop are hidden: it is then taken to stretch the
    whole picture to the input size.
    """

    size: tuple[int, int]
    resize: int | tuple[int, int] | None
    known: bool = True

    @classmethod
    def of(cls, preprocess: Any) -> Geometry:
        known = bool(getattr(preprocess, "geometry_known", True))
        resize = getattr(preprocess, "resize", None) if known else None
        return cls(tuple(preprocess.size), resize, known)

    def _placed(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(resized (h, w), crop offset (top, left)) for a loaded picture of this size."""
        pre = Preprocess(self.size, self.resize, (0.0,), (1.0,))
        return pre._geometry(height, width)

    def to_image(self, box: Sequence[float], loaded: Sequence[int],
                 original: Sequence[int]) -> tuple[int, int, int, int]:
        """``box`` (x0, y0, x1, y1) in input pixels → in the original image's pixels.

        ``loaded`` is the (height, width) of the picture :func:`load_image` gave (which the
        preprocessing resized), ``original`` the image's own (height, width).
        """
        (rh, rw), (top, left) = self._placed(int(loaded[0]), int(loaded[1]))
        sy, sx = original[0] / rh, original[1] / rw
        x0, y0, x1, y1 = box
        return (max(0, math.floor((x0 + left) * sx + 1e-6)),
                max(0, math.floor((y0 + top) * sy + 1e-6)),
                min(int(original[1]), math.ceil((x1 + left) * sx - 1e-6)),
                min(int(original[0]), math.ceil((y1 + top) * sy - 1e-6)))

    def point_to_image(self, xy: Sequence[float], loaded: Sequence[int],
                       original: Sequence[int]) -> tuple[float, float]:
        """A point (x, y) in input pixels → in the original image's pixels."""
        (rh, rw), (top, left) = self._placed(int(loaded[0]), int(loaded[1]))
        return (xy[0] + left) * original[1] / rw, (xy[1] + top) * original[0] / rh
