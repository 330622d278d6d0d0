""":class:`Concepts`: a layer's concepts (loadings on the channels, maps per image) and what to ask them.

Made by :func:`~actwidgets.layer_concepts`. ``loadings`` (n, C) ≥ 0 say which channels make
each concept; ``maps`` (images, n, h, w) ≥ 0 where each concept is, so that an image's
activations (C, h, w) ≈ ``np.einsum("kc,khw->chw", loadings, maps[i])``; ``explained`` is
1 − ‖A − reconstruction‖ / ‖A‖ over the images (Frobenius norms of all of them together).

For a view: :meth:`Concepts.strength` gives an image's maps in [0, 1], :attr:`colors` one
colour per concept, :meth:`picture` / :meth:`png` the concepts as colours over the image,
:meth:`project` the maps of any other image, :meth:`top` the best map cells over the
collection (with their receptive-field boxes), :meth:`direction` a concept as a direction in
channel space for the feature visualisation (:meth:`visualize`). :meth:`save` writes them
to one ``.npz`` file and :meth:`Concepts.load` reads it back for the same network (:mod:`.store`);
:class:`~actwidgets.ConceptView` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..atlas.store import AtlasEntry, Skipped

__all__ = ["Concepts", "Sample"]


@dataclass(frozen=True)
class Sample:
    """What the loadings were fitted on: ``positions`` map cells from ``images`` images
    (``indices``, their places in the collection), the ``seed``, the share of the sample
    they explain, scikit-learn's iterations and whether it converged."""

    positions: int
    images: int
    indices: tuple[int, ...] = field(repr=False)
    seed: int
    explained: float
    iterations: int
    converged: bool


@dataclass(frozen=True, eq=False)
class Concepts:
    """A layer's concepts (see the module's docstring).

    ``n_images`` is the collection's size; ``projected`` how many of its images were
    projected (fewer after Ctrl-C), ``has_maps`` (n_images,) which of them have maps (not the
    unreadable ones: ``skipped`` says how many, and the first names with the reason);
    ``scale`` (n,) each concept's largest map value over them.
    """

    layer: str
    stage: str
    loadings: np.ndarray
    maps: np.ndarray
    explained: float
    sample: Sample
    n_images: int
    projected: int
    skipped: Skipped
    scale: np.ndarray
    has_maps: np.ndarray = field(repr=False)
    table: dict[str, np.ndarray] | None = field(repr=False)
    net: Any = field(repr=False)
    source: Any = field(repr=False)

    # ------------------------------------------------------------------ what it is
    @property
    def n(self) -> int:
        """How many concepts."""
        return int(self.loadings.shape[0])

    @property
    def channels(self) -> int:
        return int(self.loadings.shape[1])

    @property
    def complete(self) -> bool:
        """Whether every image was projected (False after Ctrl-C)."""
        return self.projected >= self.n_images

    @property
    def colors(self) -> np.ndarray:
        """(n, 3) uint8: each concept's colour in :meth:`picture`."""
        from .pictures import concept_colors

        return concept_colors(self.n)

    def __repr__(self) -> str:
        state = "" if self.complete else f", {self.projected} of them projected"
        return (f"Concepts({self.layer!r} {self.stage}, {self.n} concepts of {self.channels} "
                f"channels, {self.n_images} images{state}, explained {self.explained:.3f})")

    def _check(self, i: Any) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"a concept is an int index, got {i!r}")
        if not 0 <= int(i) < self.n:
            raise IndexError(f"there are {self.n} concepts (0..{self.n - 1}), not {i}")
        return int(i)

    # ------------------------------------------------------------------ channels
    def top_channels(self, i: int, k: int = 5) -> list[int]:
        """The ``k`` channels with the largest loadings on concept ``i``, largest first
        (``loadings[i][those]`` are their weights)."""
        row = self.loadings[self._check(i)]
        return [int(c) for c in np.argsort(-row, kind="stable")[:max(0, int(k))]]

    def direction(self, i: int) -> np.ndarray:
        """Concept ``i`` as a unit vector (C,) in channel space (its loadings, normalised)."""
        row = self.loadings[self._check(i)].astype(np.float32)
        norm = float(np.linalg.norm(row))
        return row / norm if norm > 0 else row

    def directions(self, which: Any = None) -> np.ndarray:
        """(k, C) float32: the directions of the concepts ``which`` (default all)."""
        which = range(self.n) if which is None else [which] if np.isscalar(which) else which
        return np.stack([self.direction(i) for i in which]).astype(np.float32)

    # ------------------------------------------------------------------ maps
    def strength(self, image: int = 0) -> np.ndarray:
        """(n, h, w) float32 in [0, 1]: image ``image``'s maps over each concept's ``scale``."""
        from .pictures import strengths

        return strengths(self._maps(image), self.scale)

    def _maps(self, image: Any) -> np.ndarray:
        if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
            if not len(self.maps):
                raise ValueError("these concepts kept no maps (keep_maps=False): pass an image "
                                 "to project instead of an index")
            if not (0 <= int(image) < self.n_images and self.has_maps[int(image)]):
                raise IndexError(f"image {image} has no maps: {self.projected} of "
                                 f"{self.n_images} images were projected (unreadable ones "
                                 f"have none)")
            return self.maps[int(image)]
        return self.project(image)

    def project(self, image: Any) -> np.ndarray:
        """(n, h, w): the maps of any image (a path, array, sample name...) on these loadings."""
        from ..capture import activations
        from . import factor
        from .work import one_blas_thread

        acts = activations(self.net, image, self.layer, self.stage)
        factor.check_values(acts, self.layer)
        c, h, w = acts.shape
        with one_blas_thread():
            coef = factor.project(acts.reshape(c, -1).T, self.loadings)
        return coef.T.reshape(self.n, h, w).astype(np.float32)

    def picture(self, image: Any = 0, which: Any = None, *, alpha: float = 0.8) -> np.ndarray:
        """(H, W, 3) uint8: the concepts ``which`` (default all) as colours over the picture
        the network saw (:attr:`colors`; strength as opacity, see :mod:`.pictures`).
        ``image``: an index into the collection, or any image (projected)."""
        from ..atlas.sources import read_source
        from ..images import load_image
        from .pictures import concept_picture

        maps = self._maps(image)
        if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
            image = load_image(read_source(self._images().item(int(image))))
        which = [which] if np.isscalar(which) else which
        return concept_picture(self.net.image(image), maps, self.scale, which=which, alpha=alpha)

    def png(self, image: Any = 0, which: Any = None, *, alpha: float = 0.8) -> bytes:
        """:meth:`picture` as PNG bytes."""
        from ..pixels.png import to_png

        return to_png(self.picture(image, which, alpha=alpha))

    # ------------------------------------------------------------------ over the collection
    @property
    def field(self) -> Any:
        """The receptive fields of the layer's map cells (measured on first use, shared with
        the channel atlas)."""
        from ..atlas.engine import layer_fields

        fields, _ = layer_fields(self.net, [self.layer], {}, progress=False)
        return fields[self.layer]

    def top(self, i: int, k: int | None = None) -> list[AtlasEntry]:
        """The best map cells of concept ``i`` over the collection, best first: one
        :class:`~actwidgets.atlas.AtlasEntry` per image (``channel`` is the concept, ``score``
        the concept's largest map value in the image, ``box`` the cell's receptive field in
        the original image); ``entry.patch(images)`` gives its pixels."""
        from ..atlas.receptive import Geometry

        i = self._check(i)
        if self.table is None:
            raise ValueError("these concepts kept no top cells: call layer_concepts with top > 0")
        source = self._images()
        t, field_, geometry = self.table, self.field, Geometry.of(self.net.preprocess)
        out = []
        for r in range(t["index"].shape[1] if k is None else min(int(k), t["index"].shape[1])):
            index = int(t["index"][i, r])
            if index < 0:
                break
            cell = divmod(int(t["cell"][i, r]), field_.map_size[1])
            lh, lw, oh, ow = (int(v) for v in t["size"][i, r])
            xy = geometry.point_to_image(field_.centre(cell), (lh, lw), (oh, ow))
            out.append(AtlasEntry(
                layer=self.layer, stage=self.stage, channel=i, rank=r, index=index,
                score=float(t["max"][i, r]), max=float(t["max"][i, r]),
                mean=float(t["mean"][i, r]), cell=cell, xy=(float(xy[0]), float(xy[1])),
                box=geometry.to_image(field_.box(cell), (lh, lw), (oh, ow)),
                image_size=(oh, ow), loaded_size=(lh, lw), path=source.path(index)))
        return out

    def patches(self, i: int, k: int | None = None) -> list[np.ndarray]:
        """The pixels of :meth:`top`'s boxes, best first."""
        return [e.patch(self._images()) for e in self.top(i, k)]

    def _images(self) -> Any:
        if self.source is None:
            raise ValueError("these concepts were loaded without their images (moved, changed, "
                             "or not files): load them with Concepts.load(path, net, images=...)")
        return self.source

    def _fingerprint(self) -> str | None:
        return self.source.fingerprint() if self.source is not None else None

    # ------------------------------------------------------------------ saving
    def save(self, path: Any) -> Any:
        """Write these concepts to one ``.npz`` file (see :mod:`.store`); returns the path.
        :meth:`load` reads it back for the same network."""
        from . import store

        return store.save(self, path)

    @classmethod
    def load(cls, path: Any, net: Any, images: Any = None) -> Concepts:
        """Concepts saved by :meth:`save`, for ``net``: refused (a
        :class:`~.store.ConceptsFileError` naming the way out) when ``net`` is not the network
        they were computed on (name, weights' values, preprocessing, the layer). ``images``:
        the collection again, checked by its fingerprint (default: the saved folder or files,
        where unchanged; else the concepts come without their pictures)."""
        from . import store

        return store.load(cls, path, net, images)

    # ------------------------------------------------------------------ feature visualisation
    def visualize(self, which: Any = None, **kwargs: Any) -> np.ndarray:
        """The pictures that make the concepts ``which`` (default all) respond most: the
        feature visualisation of their directions (keywords as
        :func:`~actwidgets.visualize_channels`)."""
        from ..featurevis import visualize_channels

        return visualize_channels(self.net, self.layer, self.directions(which), stage=self.stage,
                                  **kwargs)
