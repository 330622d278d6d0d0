""":class:`ChannelAtlas`: what a scan found, queried by layer and channel, saved to one file.

An atlas holds, for every channel of its layers and each of its stages and scores, the k
best images (:class:`AtlasEntry`: index, score, where the maximum is, the receptive-field
box in the original image), the receptive fields of its layers, and what it was computed on
(model, weights, preprocessing, layers, the image list's fingerprint). It saves to one
``.npz`` file of plain arrays and a JSON header (no pickles: ``np.load(...,
allow_pickle=False)`` reads it) and loads back with :meth:`ChannelAtlas.load`.

>>> import numpy as np, torch.nn as nn, actwidgets as aw
>>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU()), input_size=16)
>>> _ = nn.init.ones_(net.model[0].weight), nn.init.zeros_(net.model[0].bias)
>>> pictures = [np.full((20, 20, 3), v, np.uint8) for v in (0, 200, 100)]
>>> atlas = aw.channel_atlas(net, pictures, "0", top=2, progress=False)
>>> [(e.index, round(e.score, 1)) for e in atlas.top("0", 1)]      # the brightest first
[(1, 21.2), (2, 10.6)]
>>> atlas.top("0", 1)[0].box            # a 3×3 field, mapped to the 20×20 picture
(0, 0, 4, 4)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..images import load_image
from ..model.network import Network
from ..model.selection import no_stage, parse_stage, stage_argument
from .meta import FORMAT, AtlasMeta, LayerSpec, Skipped
from .receptive import Field
from .run import AtlasParts, scan
from .sources import collection, read_source
from .topk import FIELDS

__all__ = ["ChannelAtlas", "AtlasEntry", "Skipped", "FORMAT", "AtlasFileError"]

@dataclass(frozen=True)
class AtlasEntry:
    """One of a channel's top images.

    ``index``: the image's position in the collection; ``score``: the ranking score (the
    channel's ``max`` or ``mean`` over the map); ``cell``: (row, column) of the maximum in
    the activation map; ``xy``: that cell's centre in the original image's pixels;
    ``box``: (x0, y0, x1, y1), the maximum's receptive field in the original image's
    pixels (half-open, cut to the part of the image the network saw); ``image_size``: the
    original image's (height, width); ``path``: its file, where it is one.
    """

    layer: str
    stage: str
    channel: int
    rank: int
    index: int
    score: float
    max: float
    mean: float
    cell: tuple[int, int]
    xy: tuple[float, float]
    box: tuple[int, int, int, int]
    image_size: tuple[int, int]
    loaded_size: tuple[int, int]
    path: str | None = None

    def patch(self, images: Any = None) -> np.ndarray:
        """The pixels of :attr:`box`, (h, w, 3) uint8, loaded again from the image's file, or
        from ``images`` (the collection the atlas was computed on) when given."""
        if images is not None:
            source = collection(images).item(self.index)
        elif self.path is not None:
            source = self.path
        else:
            raise ValueError(f"image {self.index} is no file: pass the images the atlas was "
                             "computed on, atlas.patch(entry, images)")
        rgb = load_image(read_source(source))
        sy = rgb.shape[0] / max(1, self.image_size[0])
        sx = rgb.shape[1] / max(1, self.image_size[1])
        x0, y0, x1, y1 = self.box
        r0, c0 = min(int(y0 * sy), rgb.shape[0] - 1), min(int(x0 * sx), rgb.shape[1] - 1)
        return rgb[r0:max(r0 + 1, round(y1 * sy)), c0:max(c0 + 1, round(x1 * sx))].copy()


class ChannelAtlas:
    """Per channel, the top-k images of a collection and where in them the channel fires.

    Made by :func:`~actwidgets.channel_atlas`; read with :meth:`top`, :meth:`table`,
    :meth:`patch`; saved with :meth:`save`, loaded with :meth:`load`; a scan stopped early
    (``complete`` False) continues with :meth:`resume`.
    """

    def __init__(self, meta: AtlasMeta,
                 tables: Mapping[tuple[str, str], Mapping[str, np.ndarray]],
                 fields: Mapping[str, Field]) -> None:
        #: What it was computed on, and how far the scan got.
        self.meta = meta
        self._tables = {key: {f: np.asarray(t[f]) for f in FIELDS} for key, t in tables.items()}
        self._fields = dict(fields)
        self._layers = {spec.name: spec for spec in meta.layers}
        self._geometry = meta.geometry

    @property
    def parts(self) -> AtlasParts:
        """Its header, tables and fields (what :func:`.run.scan` continues from)."""
        return AtlasParts(self.meta, self._tables, self._fields)

    # ------------------------------------------------------------------ what it is
    @property
    def model(self) -> str:
        return self.meta.model

    @property
    def weights(self) -> str:
        return self.meta.weights

    @property
    def layers(self) -> list[str]:
        return list(self._layers)

    @property
    def stages(self) -> list[str]:
        return list(self.meta.stages)

    @property
    def scores(self) -> list[str]:
        return list(self.meta.scores)

    @property
    def k(self) -> int:
        return self.meta.k

    @property
    def n_images(self) -> int:
        """How many images the collection has."""
        return self.meta.images.count

    @property
    def scanned(self) -> int:
        """How many images (from the first on) have been scanned, unreadable ones included."""
        return self.meta.scanned

    @property
    def complete(self) -> bool:
        return self.scanned >= self.n_images

    @property
    def fingerprint(self) -> str:
        return self.meta.images.fingerprint

    @property
    def skipped(self) -> Skipped:
        return Skipped(self.meta.skipped.count, list(self.meta.skipped.names))

    @property
    def nbytes(self) -> int:
        """Bytes of the top-k arrays: layers × stages × scores × channels × k, whatever the
        number of images."""
        return sum(a.nbytes for t in self._tables.values() for a in t.values())

    def __repr__(self) -> str:
        state = "complete" if self.complete else f"{self.scanned} of {self.n_images} scanned"
        return (f"ChannelAtlas({self.model!r}, {self.weights}, {len(self._layers)} layers, "
                f"stages {'/'.join(self.stages)}, by {'/'.join(self.scores)}, top {self.k}, "
                f"{self.n_images} images, {state}, {self.skipped.count} skipped)")

    # ------------------------------------------------------------------ queries
    def _spec(self, layer: str) -> LayerSpec:
        spec = self._layers.get(layer)
        if spec is None:
            spec = next((s for s in self._layers.values() if s.native == layer), None)
        if spec is None:
            raise KeyError(f"{layer!r} is not in this atlas; its layers: {', '.join(self._layers)}")
        return spec

    def _key(self, layer: str, stage: str | None,
             score: str | None) -> tuple[LayerSpec, str, tuple[str, str]]:
        spec = self._spec(layer)
        points = spec.points
        stage = parse_stage(stage, both=False, what="an atlas query")
        if stage is None:
            stage = spec.default_stage if spec.default_stage in points else next(iter(points))
        elif stage == "pre" and points.get("pre") == points.get("post"):
            raise ValueError(no_stage(spec.name, stage))
        if stage not in points:
            raise ValueError(f"stage {stage!r} was not scanned for {spec.name!r}; this atlas "
                             f"has {list(points)} for it")
        score = self.scores[0] if score is None else score
        if score not in self.scores:
            raise ValueError(f"score {score!r} was not ranked by; this atlas has {self.scores}")
        return spec, stage, (spec.points[stage], score)

    def table(self, layer: str, stage: str | None = None,
              score: str | None = None) -> dict[str, np.ndarray]:
        """The (channels, k) arrays of ``layer``: ``index`` (-1: empty slot), ``max``,
        ``mean``, ``cell`` (flat y·w + x), ``size`` (channels, k, 4: loaded and original
        height and width), best first. ``stage`` None: the layer's default stage."""
        _, _, key = self._key(layer, stage, score)
        return {f: a.copy() for f, a in self._tables[key].items()}

    def field(self, layer: str) -> Field:
        """The receptive fields of ``layer``'s map cells, in network-input pixels."""
        return self._fields[self._spec(layer).name]

    def top(self, layer: str, channel: int, stage: str | None = None,
            score: str | None = None) -> list[AtlasEntry]:
        """The channel's top images, best first (fewer than k where fewer were readable)."""
        spec, stage, key = self._key(layer, stage, score)
        if not 0 <= int(channel) < spec.channels:
            raise IndexError(f"{layer!r} has {spec.channels} channels, not channel {channel}")
        t = self._tables[key]
        return [self._entry(spec, stage, key[1], int(channel), r, t)
                for r in range(self.k) if t["index"][channel, r] >= 0]

    def _entry(self, spec: LayerSpec, stage: str, score: str, c: int, r: int,
               t: Mapping[str, np.ndarray]) -> AtlasEntry:
        field = self._fields[spec.name]
        w = field.map_size[1]
        cell = divmod(int(t["cell"][c, r]), w)
        lh, lw, oh, ow = (int(v) for v in t["size"][c, r])
        index = int(t["index"][c, r])
        xy = self._geometry.point_to_image(field.centre(cell), (lh, lw), (oh, ow))
        return AtlasEntry(
            layer=spec.name, stage=stage, channel=c, rank=r, index=index,
            score=float(t[score][c, r]), max=float(t["max"][c, r]), mean=float(t["mean"][c, r]),
            cell=cell, xy=(float(xy[0]), float(xy[1])),
            box=self._geometry.to_image(field.box(cell), (lh, lw), (oh, ow)),
            image_size=(oh, ow), loaded_size=(lh, lw), path=self.meta.paths.get(str(index)),
        )

    def patch(self, entry: AtlasEntry, images: Any = None) -> np.ndarray:
        """The pixels of ``entry``'s box (see :meth:`AtlasEntry.patch`)."""
        return entry.patch(images)

    def patches(self, layer: str, channel: int, stage: str | None = None,
                score: str | None = None, images: Any = None) -> list[np.ndarray]:
        """The patches of the channel's top images, best first."""
        return [e.patch(images) for e in self.top(layer, channel, stage, score)]

    # ------------------------------------------------------------------ resuming
    def resume(self, net: Network, images: Any, *, batch_size: int | None = None,
               num_workers: int | None = None, progress: bool = True, engine: str = "local",
               actors: int | None = None) -> ChannelAtlas:
        """Continue a scan stopped early (Ctrl-C) from the next unscanned image, on the same
        network and images; the same as ``channel_atlas(net, images, ..., resume=self)``."""
        return ChannelAtlas(*scan(
            net, images, self.layers, self.k, stage=_stage_arg(self.meta.layers),
            score=_score_arg(self.scores), batch_size=batch_size, num_workers=num_workers,
            progress=progress, resume=self.parts, engine=engine, actors=actors))

    # ------------------------------------------------------------------ file
    def save(self, path: str | os.PathLike) -> Path:
        """Write the atlas to one ``.npz`` file (written whole, then moved into place)."""
        path = Path(path)
        meta = dict(self.meta.to_json(), tables=[list(k) for k in self._tables],
                    fields=list(self._fields))
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
        for i, table in enumerate(self._tables.values()):
            arrays.update({f"table{i}/{f}": a for f, a in table.items()})
        for name, field in self._fields.items():
            i = meta["fields"].index(name)
            arrays.update({f"field{i}/rows": field.rows, f"field{i}/cols": field.cols})
        tmp = path.with_name(path.name + ".part")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChannelAtlas:
        """An atlas written by :meth:`save`; :class:`AtlasFileError` for a file that is
        missing, damaged or no atlas (its tables checked against its header)."""
        path = Path(path)
        if not path.is_file():
            raise AtlasFileError(f"{path}: no such atlas file. Check the path, or compute the "
                                 "atlas again with channel_atlas(...) and atlas.save(path).")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta, tables, fields = _read(data)
            return cls(meta, tables, fields)
        except AtlasFileError as exc:
            raise AtlasFileError(f"{path}: {exc}{_WAY_OUT}") from None
        except Exception as exc:  # noqa: BLE001 - a damaged file, whatever numpy says about it
            raise AtlasFileError(f"{path}: {_what_is_wrong(exc)}{_WAY_OUT}") from None


class AtlasFileError(ValueError):
    """An atlas file that cannot be read: missing, damaged (cut short, edited) or no atlas."""


_WAY_OUT = (". It cannot be used: load another copy, or compute the atlas again with "
            "channel_atlas(...) and atlas.save(path) (an interrupted scan resumes from a "
            "saved, undamaged file).")


def _what_is_wrong(exc: BaseException) -> str:
    """Why numpy or zipfile refused the file, in words (never numpy's advice on pickles)."""
    import zipfile

    if isinstance(exc, (zipfile.BadZipFile, EOFError)) or "pickle" in str(exc):
        return "this is no atlas file, or it is damaged (cut short or overwritten)"
    if isinstance(exc, KeyError):
        return f"the file lacks a part of the atlas ({exc})"
    if isinstance(exc, json.JSONDecodeError):
        return "its header is damaged (not valid JSON)"
    return f"the file is damaged ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"


def _read(data: Any) -> tuple[AtlasMeta, dict, dict]:
    """Header, tables and fields of an opened atlas file, every shape checked."""
    if "meta" not in data.files:
        raise AtlasFileError("this is no channel atlas file (it has no header)")
    meta = json.loads(str(data["meta"][()]))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise AtlasFileError(f"this is no channel atlas of this version (format {found!r}, "
                             f"expected {FORMAT!r})")
    try:
        table_keys, field_names = meta.pop("tables"), meta.pop("fields")
        header = AtlasMeta.from_json(meta)
        specs = {s.name: s for s in header.layers}
        k, points = header.k, {pt: s for s in specs.values() for pt in s.points.values()}
        size = header.input_size
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AtlasFileError(f"its header is damaged (a part is missing or edited: {exc})") from None
    tables = {}
    for i, key in enumerate(table_keys):
        spec = points.get(key[0]) if isinstance(key, list) and len(key) == 2 else None
        if spec is None:
            raise AtlasFileError(f"its table {i} names no layer of the header ({key!r})")
        c = spec.channels
        tables[tuple(key)] = {f: _checked(data, f"table{i}/{f}", (c, k, 4) if f == "size" else (c, k))
                              for f in FIELDS}
    fields = {}
    for i, name in enumerate(field_names):
        if name not in specs:
            raise AtlasFileError(f"its receptive field {i} names no layer of the header ({name!r})")
        h, w = specs[name].map_size
        fields[name] = Field(_checked(data, f"field{i}/rows", (h, 2)),
                             _checked(data, f"field{i}/cols", (w, 2)), size)
    return header, tables, fields


def _checked(data: Any, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Array ``name`` of the file, which must have ``shape`` and numbers in it."""
    if name not in data.files:
        raise AtlasFileError(f"the file lacks its array {name!r}")
    a = data[name]
    if a.shape != shape or a.dtype.kind not in "iuf":
        raise AtlasFileError(f"its array {name!r} is {a.dtype} {a.shape}, where the header "
                             f"says {shape}: the tables were edited or mixed up")
    return a


def _stage_arg(specs: Sequence[LayerSpec]) -> str | None:
    return stage_argument((tuple(s.points), s.default_stage) for s in specs)


def _score_arg(scores: list[str]) -> str | tuple[str, ...]:
    return scores[0] if len(scores) == 1 else tuple(scores)
