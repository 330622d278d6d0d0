"""The image collection an atlas scans: a folder, a list, or a torch ``Dataset``/``DataLoader``.

:func:`collection` turns the ``images`` argument into a :class:`Collection`: a fixed order
(an image's *index* is its position in it), a name per image for reports, and a fingerprint
that a resumed scan checks. :class:`PreparedImages` is the ``Dataset`` the scan's
``DataLoader`` reads: each item is one image decoded by :func:`actwidgets.load_image`,
preprocessed for the network, or marked unreadable (never an error).

- a folder (``str`` or ``Path``): every file under it, recursively, whose extension Pillow
  opens (``.jpg``, ``.png``, ``.tif``, ``.webp``, ...), in sorted order of their paths
  relative to the folder; other files are ignored. A folder in cloud storage
  (``s3://bucket/photos``, ``gs://...``, any URI ``pyarrow.fs`` knows) is listed and read
  through pyarrow's file systems (installed with the ``scale`` extra);
- a list or tuple of anything :func:`~actwidgets.load_image` reads (paths, arrays, PIL
  images, tensors, bytes), or of cloud-storage URIs;
- a ``torch.utils.data.Dataset`` (map-style, with ``len``) whose items are images, or
  ``(image, label, ...)`` tuples (the first element is the image), or dicts with an
  ``"image"`` key: a torchvision dataset built *without* a normalising transform
  (``ImageFolder(root)``, or ``transform=ToTensor()``), since the atlas applies the network's
  own preprocessing to map patches back to the original pixels;
- a ``DataLoader`` over such a dataset: its dataset is read in order (not its sampler), with
  its ``batch_size`` and ``num_workers`` unless given.

>>> import numpy as np
>>> pictures = [np.zeros((8, 8, 3), np.uint8), np.ones((4, 4), np.uint8)]
>>> c = collection(pictures)
>>> len(c), c.name(1), c.kind
(2, 'item 1', 'list')
>>> c.fingerprint() == collection([p.copy() for p in pictures]).fingerprint()   # by content
True
>>> c.fingerprint() == collection(pictures[:1]).fingerprint()
False
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..images import WORKING_SIDE, load_image

__all__ = ["Collection", "collection", "check_collection", "PreparedImages", "prepare", "collate",
           "image_extensions", "original_size", "is_uri", "read_source"]


def image_extensions() -> frozenset[str]:
    """File extensions (lower case, with the dot) of the formats Pillow can open."""
    Image.init()
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def _folder_files(root: Path) -> list[Path]:
    exts = image_extensions()
    files = [p for p in root.rglob("*") if p.suffix.lower() in exts and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _b(text: str) -> bytes:
    """``text`` as bytes, file names that are no UTF-8 included (their bytes, as the OS has them)."""
    return text.encode("utf-8", "surrogateescape")


def _item_token(item: Any) -> bytes:
    """A few bytes that change when the item does (path: size and mtime; data: a digest)."""
    if isinstance(item, (str, os.PathLike)):
        path = Path(item).expanduser()
        try:
            st = path.stat()
            return _b(f"path:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
        except (OSError, RuntimeError):  # missing, or a symlink loop
            return _b(f"path:{path}:missing")
    if isinstance(item, Image.Image):
        return b"pil:" + hashlib.blake2b(item.tobytes(), digest_size=16).digest() + repr(
            (item.mode, item.size)).encode()
    if isinstance(item, (bytes, bytearray, memoryview)):
        return b"bytes:" + hashlib.blake2b(bytes(item), digest_size=16).digest()
    if hasattr(item, "detach") and hasattr(item, "cpu"):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        data = np.ascontiguousarray(item)
        return b"array:" + hashlib.blake2b(data.tobytes(), digest_size=16).digest() + repr(
            (data.shape, str(data.dtype))).encode()
    return f"other:{type(item).__name__}".encode()


def _image_of(item: Any) -> Any:
    """The image in a dataset item: the item, its first element, or its ``"image"``."""
    if isinstance(item, (tuple, list)) and item:
        return item[0]
    if isinstance(item, dict) and "image" in item:
        return item["image"]
    return item


class Collection:
    """Images in a fixed order. ``kind`` is ``"folder"``, ``"list"`` or ``"dataset"``."""

    def __init__(self, kind: str, items: Any, root: Path | str | None = None,
                 tokens: list[str] | None = None) -> None:
        self.kind = kind
        self.items = items
        self.root = root
        self.tokens = tokens  # what the fingerprint hashes, where the listing gave it

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        where = f" {self.root}" if self.root is not None else ""
        return f"Collection({self.kind}{where}, {len(self)} images)"

    def item(self, i: int) -> Any:
        """What :func:`~actwidgets.load_image` reads for image ``i``."""
        return _image_of(self.items[i]) if self.kind == "dataset" else self.items[i]

    def path(self, i: int) -> str | None:
        """The file of image ``i``, where the image is a file."""
        if self.kind == "dataset":
            samples = getattr(self.items, "samples", None)
            return str(samples[i][0]) if isinstance(samples, list) else None
        item = self.items[i]
        return str(item) if isinstance(item, (str, os.PathLike)) else None

    def name(self, i: int) -> str:
        """How reports name image ``i``: its path, else ``item i``."""
        return self.path(i) or f"item {i}"

    def fingerprint(self) -> str:
        """A digest of what the collection holds.

        Files count by path, size and modification time (a list of URIs by the URIs alone),
        in-memory images by their bytes. A
        dataset counts by its type and length, its ``samples`` (torchvision's
        ``ImageFolder``) where it has them, else its first, middle and last items.
        """
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.kind}:{len(self)}".encode())
        if self.tokens is not None:
            for token in self.tokens:
                h.update(_b(token) + b"\n")
        elif self.kind == "folder":
            for p in self.items:
                st = p.stat()
                name = p.relative_to(self.root).as_posix()
                h.update(_b(f"{name}:{st.st_size}:{st.st_mtime_ns}\n"))
        elif self.kind == "list":
            for item in self.items:
                h.update(_item_token(item))
        else:
            h.update(type(self.items).__qualname__.encode())
            samples = getattr(self.items, "samples", None)
            if isinstance(samples, list):
                for s in samples:
                    h.update(_item_token(s[0] if isinstance(s, (tuple, list)) else s))
            else:
                for i in sorted({0, len(self) // 2, len(self) - 1} if len(self) else set()):
                    try:
                        h.update(_item_token(self.item(i)))
                    except Exception as exc:  # an unreadable item still fingerprints
                        h.update(f"error:{type(exc).__name__}".encode())
        return h.hexdigest()


def collection(images: Any) -> Collection:
    """The :class:`Collection` for an ``images`` argument (see the module's docstring)."""
    if isinstance(images, Collection):
        return images
    if isinstance(images, torch.utils.data.DataLoader):
        images = images.dataset
    if is_uri(images):
        files, tokens = _uri_files(images)
        return Collection("folder", files, images, tokens)
    if isinstance(images, (str, os.PathLike)):
        root = Path(images).expanduser()
        if not root.is_dir():
            raise ValueError(f"'{root}' is not a folder: pass a folder of images, a list of "
                             "images (paths, arrays), or a torch Dataset")
        root = root.resolve()
        return Collection("folder", _folder_files(root), root)
    if isinstance(images, (list, tuple)):
        items = list(images)
        uris = bool(items) and all(is_uri(u) for u in items)
        return Collection("list", items, tokens=items if uris else None)
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return Collection("list", list(images))
    if isinstance(images, torch.utils.data.Dataset) and hasattr(images, "__len__"):
        return Collection("dataset", images)
    raise TypeError(
        f"images must be a folder, a list of images, a torch Dataset or a DataLoader, got "
        f"{type(images).__name__}")


def check_collection(images: Collection) -> None:
    """A clear error for a collection with nothing to scan, or a Dataset of normalised tensors."""
    if len(images) == 0:
        where = f"the folder {images.root}" if images.kind == "folder" else f"the {images.kind}"
        raise ValueError(f"{where} holds no image to scan (a folder: no file whose extension "
                         "Pillow opens, such as .jpg or .png): check the path or the list")
    if images.kind != "dataset":
        return
    try:
        first = images.item(0)
    except Exception:  # noqa: BLE001 - the scan skips and names it
        return
    if isinstance(first, torch.Tensor):
        first = first.detach().cpu().numpy()
    if isinstance(first, np.ndarray) and first.dtype.kind == "f" and first.size:
        lo, hi = float(first.min()), float(first.max())
        if lo < 0 or hi > 1:
            raise ValueError(
                f"the Dataset's images are normalised (values in [{lo:.3g}, {hi:.3g}], not the "
                "[0, 1] of a picture): the atlas applies the network's own preprocessing, so "
                "build the dataset without Normalize (transform=ToTensor(), or no transform)")


def is_uri(item: Any) -> bool:
    """Whether ``item`` is a URI such as ``s3://bucket/key`` (read through ``pyarrow.fs``)."""
    return isinstance(item, str) and "://" in item[:16]


@functools.lru_cache(maxsize=64)
def _split_uri(uri: str) -> tuple[Any, str]:
    """(pyarrow file system, path in it) for a URI (cached: S3 looks up the bucket's region)."""
    from pyarrow import fs as pafs  # the scale extra; only for URIs

    return pafs.FileSystem.from_uri(uri)


def _uri_files(uri: str) -> tuple[list[str], list[str]]:
    """The image files under a cloud-storage folder (sorted URIs) and their fingerprint tokens."""
    from pyarrow import fs as pafs

    filesystem, root = _split_uri(uri.rstrip("/"))
    infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    exts = image_extensions()
    files = sorted((i for i in infos if i.type == pafs.FileType.File
                    and os.path.splitext(i.path)[1].lower() in exts), key=lambda i: i.path)
    base = uri.rstrip("/")
    uris = [base + i.path[len(root.rstrip("/")):] for i in files]
    tokens = [f"{i.path[len(root):]}:{i.size}:{i.mtime_ns}" for i in files]
    return uris, tokens


def read_source(item: Any) -> Any:
    """What :func:`load_image` reads for ``item``: the bytes of a URI's object, else ``item``."""
    if not is_uri(item):
        return item
    folder, name = item.rsplit("/", 1)
    filesystem, path = _split_uri(folder)
    with filesystem.open_input_stream(f"{path.rstrip('/')}/{name}") as stream:
        return stream.read()


def original_size(item: Any, loaded: np.ndarray) -> tuple[int, int]:
    """(height, width) of the image as stored, before :func:`load_image` shrank it."""
    h, w = int(loaded.shape[0]), int(loaded.shape[1])
    if max(h, w) < WORKING_SIDE:
        return h, w
    try:
        if isinstance(item, (str, os.PathLike, bytes, bytearray)):
            src = io.BytesIO(bytes(item)) if isinstance(item, (bytes, bytearray)) else item
            with Image.open(src) as img:
                size, turned = img.size, img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        elif isinstance(item, Image.Image):
            size, turned = item.size, item.getexif().get(0x0112, 1) in (5, 6, 7, 8)
        else:
            shape = tuple(np.shape(item))
            channels_first = len(shape) == 3 and shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4)
            oh, ow = shape[-2:] if channels_first else shape[:2]
            size, turned = (ow, oh), False
    except Exception:  # the loaded size is the best we have
        return h, w
    ow, oh = size
    return (ow, oh) if turned else (oh, ow)


class PreparedImages(torch.utils.data.Dataset):
    """Images ``start``, ``start + 1``, ... of a collection, as the network's input tensors.

    Each item is a dict: ``index``, ``pixels`` (C, H, W) float32, ``ok`` (False for an
    unreadable image, whose pixels are zeros), ``size`` (loaded height, width, original
    height, width) and ``error`` (``"name: reason"`` or ``""``).
    """

    def __init__(self, images: Collection, preprocess: Any, start: int = 0) -> None:
        self.images = images
        self.preprocess = preprocess
        self.start = start

    def __len__(self) -> int:
        return max(0, len(self.images) - self.start)

    def __getitem__(self, j: int) -> dict[str, Any]:
        return prepare(self.images, self.preprocess, self.start + j)


def prepare(images: Collection, preprocess: Any, i: int) -> dict[str, Any]:
    """Image ``i`` of ``images`` read and preprocessed (see :class:`PreparedImages`)."""
    try:
        raw = read_source(images.item(i))
        rgb = load_image(raw)
        pixels = preprocess.from_picture(preprocess.image(rgb)).float()
        size = (*rgb.shape[:2], *original_size(raw, rgb))
        return {"index": i, "pixels": pixels, "ok": True, "size": size, "error": ""}
    except Exception as exc:  # an unreadable image is skipped and counted, never fatal
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        h, w = preprocess.size
        return {"index": i, "pixels": torch.zeros(preprocess.channels, h, w), "ok": False,
                "size": (0, 0, 0, 0), "error": f"{images.name(i)}: {reason}"}


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A batch of :class:`PreparedImages` items: tensors stacked, errors listed."""
    return {
        "index": torch.tensor([it["index"] for it in items], dtype=torch.int64),
        "pixels": torch.stack([it["pixels"] for it in items]),
        "ok": torch.tensor([it["ok"] for it in items], dtype=torch.bool),
        "size": torch.tensor([it["size"] for it in items], dtype=torch.int32),
        "errors": [it["error"] for it in items if it["error"]],
    }
