"""What an atlas was computed on, as typed records: its layers, its images, its header.

The header is what :meth:`~actwidgets.atlas.ChannelAtlas.save` writes as JSON beside the
tables; :meth:`AtlasMeta.to_json` and :meth:`AtlasMeta.from_json` turn one into the other,
key for key as the ``.npz`` file has always held them.

>>> spec = LayerSpec("conv1", "conv1", 64, (111, 111), "pre", {"pre": "features.0"})
>>> LayerSpec.from_json(spec.to_json()) == spec
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, NamedTuple

from .receptive import Geometry

__all__ = ["FORMAT", "LayerSpec", "ImagesInfo", "Skipped", "AtlasMeta", "ScanPlan"]

#: The ``format`` of an atlas file's header.
FORMAT = "actwidgets.channel_atlas/1"

#: What a resumed scan must share with the atlas it continues.
_SAME = ("model", "weights", "weights_digest", "preprocess", "layers", "stages", "scores", "k",
         "images")


class Skipped(NamedTuple):
    """Images that could not be read: how many, and the first few with the reason."""

    count: int
    names: list[str]


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an atlas, as scanned."""

    name: str  #: the layer's name in the network's catalogue
    native: str  #: the model's own name for it (its module or op)
    channels: int  #: how many channels its map has
    map_size: tuple[int, int]  #: (h, w) of its map at the network's input size
    default_stage: str  #: the stage ``stage=None`` means for it
    points: dict[str, str]  #: stage -> the extractor's point holding that stage

    def to_json(self) -> dict[str, Any]:
        return dict(asdict(self), map_size=list(self.map_size))

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LayerSpec:
        h, w = d["map_size"]
        return cls(str(d["name"]), str(d["native"]), int(d["channels"]), (int(h), int(w)),
                   str(d["default_stage"]), dict(d["points"]))


@dataclass(frozen=True)
class ImagesInfo:
    """The collection an atlas was computed on."""

    kind: str  #: "folder", "list", "dataset", ... (:class:`~.sources.Collection`'s kind)
    root: str | None  #: the folder, where it is one
    count: int  #: how many images it has
    fingerprint: str  #: a digest of its list, sizes and dates: the same images, the same digest


@dataclass(frozen=True)
class AtlasMeta:
    """An atlas' header: what it was computed on (fixed when the scan starts) and how far the
    scan got (set when it stops)."""

    model: str  #: the network's name
    weights: str  #: which weights it had ("own weights", "ImageNet", ...)
    weights_digest: str  #: a digest of the weights' values
    preprocess: str  #: the preprocessing's repr
    geometry: Geometry  #: how the preprocessing placed the original image in the input
    input_size: tuple[int, int]  #: the network's (h, w) input
    layers: tuple[LayerSpec, ...]  #: the layers scanned, in order
    stages: tuple[str, ...]  #: "pre", "post" or both
    scores: tuple[str, ...]  #: "max", "mean" or both
    k: int  #: how many top images per channel
    images: ImagesInfo  #: the collection
    scanned: int = 0  #: images scanned, from the first on (unreadable ones included)
    engine: str = "local"  #: "local" or "ray"
    paths: dict[str, str] = field(default_factory=dict)  #: image index (a str) -> its file
    skipped: Skipped = Skipped(0, [])  #: images that could not be read
    created: str = ""  #: when the scan stopped, ISO 8601 in UTC
    actwidgets: str = ""  #: the package's version that made it
    format: str = FORMAT  #: the header's format

    def differs(self, other: AtlasMeta) -> list[str]:
        """The fields a resumed scan must share with the atlas it continues, where they differ."""
        return [key for key in _SAME if getattr(self, key) != getattr(other, key)]

    def finished(self, **changes: Any) -> AtlasMeta:
        """This header with how far the scan got (``scanned``, ``engine``, ...)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """The header as the ``.npz`` file holds it (plain JSON types, the file's key order)."""
        g = self.geometry
        resize = list(g.resize) if isinstance(g.resize, tuple) else g.resize
        return {
            "format": self.format, "model": self.model, "weights": self.weights,
            "weights_digest": self.weights_digest, "preprocess": self.preprocess,
            "geometry": {"size": list(g.size), "known": g.known, "resize": resize},
            "input_size": list(self.input_size), "layers": [s.to_json() for s in self.layers],
            "stages": list(self.stages), "scores": list(self.scores), "k": self.k,
            "images": asdict(self.images), "scanned": self.scanned, "engine": self.engine,
            "paths": dict(self.paths),
            "skipped": {"count": self.skipped.count, "names": list(self.skipped.names)},
            "created": self.created, "actwidgets": self.actwidgets,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AtlasMeta:
        """The header of a file; KeyError, TypeError or ValueError where a part is missing or
        of the wrong kind."""
        g, im, sk = d["geometry"], d["images"], d["skipped"]
        resize = tuple(g["resize"]) if isinstance(g["resize"], list) else g["resize"]
        h, w = d["input_size"]
        return cls(
            model=d["model"], weights=d["weights"], weights_digest=d["weights_digest"],
            preprocess=d["preprocess"],
            geometry=Geometry(tuple(int(v) for v in g["size"]), resize, bool(g["known"])),
            input_size=(int(h), int(w)), layers=tuple(LayerSpec.from_json(s) for s in d["layers"]),
            stages=tuple(d["stages"]), scores=tuple(d["scores"]), k=int(d["k"]),
            images=ImagesInfo(im["kind"], im["root"], int(im["count"]), im["fingerprint"]),
            scanned=int(d["scanned"]), engine=d.get("engine", "local"), paths=dict(d["paths"]),
            skipped=Skipped(int(sk["count"]), list(sk["names"])), created=d.get("created", ""),
            actwidgets=d.get("actwidgets", ""), format=d["format"],
        )


@dataclass(frozen=True)
class ScanPlan:
    """What a scan computes per batch."""

    points: tuple[str, ...]  #: the extractor's points, each once (a layer's stages share some)
    scores: tuple[str, ...]  #: the scores ranked by
    k: int  #: how many top images per channel
