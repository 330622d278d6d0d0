"""The pictures an explorer offers: the samples, the ones passed in, the uploads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import pixels
from ..explorer_state import image_names, unique_name
from ..images import SAMPLE_IMAGES, load_image, sample_image

__all__ = ["ImageShelf", "MAX_UPLOAD_BYTES", "read_upload"]

#: Uploads larger than this are refused before decoding.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


def read_upload(item: Mapping[str, Any]) -> tuple[str, np.ndarray]:
    """The name and RGB pixels of one file of a ``FileUpload``'s value; an
    :class:`actwidgets.ImageError` (or ValueError) that says what is wrong otherwise."""
    name = str(item.get("name") or "upload")
    content = item.get("content")
    if content is None:
        raise ValueError("the upload holds no file content")
    size = content.nbytes if isinstance(content, memoryview) else len(content)
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"{name} is {size / 2**20:.0f} MiB, more than the {MAX_UPLOAD_BYTES // 2**20} MiB "
            "an upload may have; resize or compress it first"
        )
    return name, load_image(bytes(content))


class ImageShelf:
    """Named pictures at the network's input size, loaded when first shown (samples), with
    small PNG thumbnails. Names are made unique (``cat (2)``), by the export's rule."""

    def __init__(self, net: Any) -> None:
        self._net = net
        self._pictures: dict[str, np.ndarray | None] = {}
        self._sources: dict[str, Any] = {}  # what each picture was made from (an export redoes it)
        self._thumbs: dict[str, bytes] = {}

    @property
    def names(self) -> list[str]:
        return list(self._pictures)

    def __contains__(self, name: object) -> bool:
        return name in self._pictures

    def unique(self, name: str) -> str:
        return unique_name(name, self._pictures)

    def add(self, name: str, image: Any) -> str:
        """Offer ``image`` (anything load_image reads, or a sample's name), resized and
        cropped to the network's input size; the name used."""
        source = load_image(image)
        picture = self._net.image(source)
        key = self.unique(name)
        self._pictures[key], self._sources[key] = picture, source
        return key

    def add_samples(self) -> None:
        for name in SAMPLE_IMAGES:
            self._pictures.setdefault(name, None)  # loaded on first use

    def add_given(self, images: Any) -> None:
        """The ``images`` argument of an explorer (a dict name → image, a list, or one),
        named by :func:`~actwidgets.explorer_state.image_names` as the export names them."""
        for name, source in image_names(images):
            self.add(name, source)

    def source(self, name: str) -> Any:
        """What the picture ``name`` was made from: the loaded image, or a sample's name."""
        return self._sources.get(name, name)

    def picture(self, name: str) -> np.ndarray:
        """The read-only (H, W, 3) uint8 picture at the network's input size."""
        picture = self._pictures.get(name)
        if picture is None:
            picture = self._net.image(sample_image(name))
            picture.flags.writeable = False
            self._pictures[name] = picture
        return picture

    def thumbnail(self, name: str) -> bytes:
        thumb = self._thumbs.get(name)
        if thumb is None:
            thumb = self._thumbs[name] = pixels.to_png(self.picture(name))
        return thumb

