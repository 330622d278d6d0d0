"""Any picture as an RGB uint8 array: one rule for image arguments everywhere.

:func:`load_image` takes a path, a sample image's name (``"face"``, ``"cat"``), the bytes of
an image file, a PIL image, a numpy array or a torch tensor. A photo larger than
:data:`WORKING_SIDE` is shrunk as it is decoded (JPEG draft mode, then Pillow's thumbnail),
turned upright by its EXIF orientation, and put on white where it is transparent; of an
animated GIF (or a multi-page TIFF) the first frame is used, with a warning. Every
problem with a file is an :class:`ImageError` that names the file, says what is wrong with it
in plain words and what to do.

>>> load_image("cat").shape
(300, 451, 3)
>>> load_image(np.zeros((2, 3), dtype=np.float32)).shape
(2, 3, 3)
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .samples import SAMPLE_IMAGES, sample_image

__all__ = ["load_image", "ImageError", "ImageNotFoundError", "WORKING_SIDE", "MAX_ASPECT"]

#: Pictures are shrunk (keeping their aspect ratio) so that the longer side is at most this:
#: well above every network's input, small enough to stay fast (a 48-megapixel photo
#: becomes 2048 × 1536).
WORKING_SIDE = 2048

#: A picture more than this many times longer than wide (or wider than long) is refused.
MAX_ASPECT = 50

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class ImageError(ValueError):
    """A picture that cannot be used; the message names it, says why and what to do."""


class ImageNotFoundError(ImageError, FileNotFoundError):
    """No image file at that path (and no sample image of that name)."""


# --------------------------------------------------------------------------- decoding


def _shrunk(img: Image.Image) -> Image.Image:
    if max(img.size) > WORKING_SIDE:
        img = img.copy() if img.readonly else img
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.LANCZOS)
    return img


def _check_shape(w: int, h: int, what: str) -> None:
    if min(w, h) < 1:
        raise ImageError(f"{what} is empty ({w}×{h} pixels); pass a picture")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(
            f"{what} is {w}×{h} pixels: a strip more than {MAX_ASPECT} times longer than wide, "
            "not a picture a network can look at. Crop it to the part you want first."
        )


def _rgb(img: Image.Image) -> np.ndarray:
    """RGB uint8 from any mode: 16-bit grey scaled, transparency put on white."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.round(np.clip(arr, 0, top) / top * 255.0).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if img.mode == "F":
        return _from_array(np.asarray(img), "the picture")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:  # a palette or colour key
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.array(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.array(img.convert("RGB"), dtype=np.uint8)


def _from_pil(img: Image.Image, what: str) -> np.ndarray:
    _check_shape(img.width, img.height, what)
    return _rgb(_shrunk(ImageOps.exif_transpose(img)))


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Pillow's errors while reading ``what`` as one ImageError sentence each."""
    try:
        yield
    except ImageError:  # our own sentence (a strip, an empty picture): as it is
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{what} is not an image (Pillow cannot read it); pass a PNG, JPEG, "
                         "BMP, GIF, TIFF or WebP file") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{what} declares more pixels than Pillow decodes safely (its "
                         "decompression-bomb limit): it is no ordinary photo") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(_damaged(what, exc)) from None


def _decode(src: io.BytesIO | Path, what: str) -> np.ndarray:
    with _reading(what), Image.open(src) as img:
        _check_shape(img.width, img.height, what)
        if img.format == "JPEG":
            img.draft("RGB", (WORKING_SIDE, WORKING_SIDE))  # decode at 1/2, 1/4 or 1/8 size
        frames = getattr(img, "n_frames", 1)
        if frames > 1:
            warnings.warn(f"{what} holds {frames} frames (an animation or a multi-page file): "
                          "its first frame is used; to use another, save that frame as its own "
                          "file", UserWarning, stacklevel=4)
        img.load()
        return _from_pil(img, what)


def _damaged(what: str, exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text.lower():
        return (f"{what} is truncated: the file ends before the picture does (an interrupted "
                "download or copy?). Copy it again from where it came from.")
    return (f"{what} is damaged: its picture data cannot be decoded ({text}). Open and save it "
            "again in an image editor, or use another copy.")


# --------------------------------------------------------------------------- arrays


def _array_errors(a: np.ndarray, what: str) -> None:
    if a.dtype == np.bool_:
        raise TypeError(f"{what} is a bool array; for a mask use a.astype(np.uint8) * 255, "
                        "for an image pass uint8 or float in [0, 1]")
    if a.dtype.kind not in "uif":
        raise TypeError(f"{what} has dtype {a.dtype}; pass uint8 (0..255) or float (0..1) pixels")
    if a.size == 0:
        raise ImageError(f"{what} is empty (shape {a.shape}); pass a non-empty image")
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        hint = ("which looks channels-first; move the channels last with np.moveaxis(a, 0, -1)"
                if a.shape[0] in (1, 3, 4) else "the last axis must hold 1, 3 or 4 channels")
        raise ImageError(f"{what} has shape {a.shape}, {hint}")
    if a.ndim not in (2, 3):
        raise ImageError(f"{what} has shape {a.shape}; pass H x W (grey) or H x W x 1, 3 or 4"
                         + (" (one image, not a batch)" if a.ndim == 4 else ""))


def _to_uint8(a: np.ndarray, what: str) -> np.ndarray:
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ImageError(f"{what} contains NaN or inf; replace them, e.g. np.nan_to_num(a)")
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ImageError(
                f"{what} is float with values in [{lo:.4g}, {hi:.4g}] but float images must lie "
                "in [0, 1]: divide by 255 if it holds 0..255 values, or rescale it with "
                "actwidgets.mat2gray (for a network input, undo its normalisation first)")
        t = np.multiply(a, 255.0, dtype=np.float64 if a.dtype == np.float64 else np.float32) + 0.5
        return np.clip(t, 0, 255).astype(np.uint8)
    lo, hi = int(np.min(a)), int(np.max(a))
    if lo < 0 or hi > 255:
        raise ImageError(f"{what} has integer values in [{lo}, {hi}]; integer images must lie in "
                         "0..255 (for 16-bit data divide by 257 and cast to uint8)")
    return a.astype(np.uint8)


def _from_array(a: np.ndarray, what: str, *, channels_first: bool = False) -> np.ndarray:
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and channels_first and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    _array_errors(a, what)
    _check_shape(a.shape[1], a.shape[0], what)
    u8 = _to_uint8(a, what)
    if u8.ndim == 2:
        u8 = u8[:, :, None]
    if u8.shape[2] == 1:
        u8 = np.repeat(u8, 3, axis=2)
    if u8.shape[2] == 4 or max(u8.shape[:2]) > WORKING_SIDE:
        return _rgb(_shrunk(Image.fromarray(np.ascontiguousarray(u8))))
    return np.array(u8, dtype=np.uint8, order="C")  # always a new array


# --------------------------------------------------------------------------- the rule


def _broken_link(path: Path) -> str:
    """Why the symbolic link ``path`` leads to no file: a loop, or a missing target."""
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 says "Symlink loop"
        loop = True
    except OSError as exc:
        loop = exc.errno == errno.ELOOP
    else:
        loop = False
    if loop:
        return (f"'{path}' is a symbolic link in a loop (it leads back to itself, never to a "
                "file); point it at an image file, or pass the image's own path")
    return (f"'{path}' is a symbolic link to '{os.readlink(path)}', which does not exist; point "
            "it at an image file, or pass the image's own path")


def _from_path(text: str | os.PathLike) -> np.ndarray:
    if isinstance(text, str) and _URL.match(text):
        raise ImageError(
            f"'{text}' is a web address: actwidgets reads local files only. Download it first, "
            f"e.g. urllib.request.urlretrieve(url, 'photo.jpg'), then pass 'photo.jpg'.")
    if not str(text).strip():
        raise ImageError("the image path is empty; pass a file's path or a sample image's name: "
                         f"{', '.join(SAMPLE_IMAGES)}")
    path = Path(text).expanduser()
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as exc:  # a name too long for the file system, ...
        raise ImageError(f"'{text}' cannot be a file's path ({exc.strerror or exc})") from None
    if is_dir:
        raise ImageError(f"'{path}' is a folder, not an image file; pass the path of one image in it")
    if not exists:
        if isinstance(text, str) and text in SAMPLE_IMAGES:
            return sample_image(text)
        if path.is_symlink():
            raise ImageNotFoundError(_broken_link(path))
        raise ImageNotFoundError(
            f"no image file '{path}'. Check the path (relative paths start at {Path.cwd()}), or "
            f"use a sample image by name: {', '.join(SAMPLE_IMAGES)}.")
    return _decode(path, f"the image file '{path}'")


def load_image(image: Any) -> np.ndarray:
    """Any picture as a new ``(H, W, 3)`` uint8 RGB array (yours to change).

    Accepts a path (str or ``pathlib.Path``; a file of that name wins over a sample), a sample
    image's name (``SAMPLE_IMAGES``), the bytes of an image file (a FileUpload's), a PIL image
    (any mode), a numpy array (H x W, H x W x 1/3/4; uint8, or float in [0, 1]) or a torch
    tensor (C x H x W or H x W x C). Transparent areas become white; photos are turned upright
    by their EXIF orientation and shrunk to at most ``WORKING_SIDE`` pixels on their longer side.
    """
    if isinstance(image, (str, os.PathLike)):
        return _from_path(image)
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ImageError("the image bytes are empty; pass the content of an image file")
        return _decode(io.BytesIO(data), f"the uploaded file ({len(data):,} bytes)")
    if isinstance(image, Image.Image):
        what = f"the PIL image ({image.mode}, {image.width}x{image.height})"
        with _reading(what):  # an opened file is decoded only now: it may be damaged
            return _from_pil(image, what)
    if isinstance(image, np.ndarray):
        return _from_array(image, f"the array of shape {image.shape}")
    if all(hasattr(image, a) for a in ("detach", "cpu", "numpy")):  # a torch tensor
        t = image.detach().cpu()
        try:
            arr = t.numpy()
        except TypeError:  # bfloat16 has no numpy dtype
            arr = t.float().numpy()
        return _from_array(arr, f"the tensor of shape {tuple(arr.shape)}", channels_first=True)
    raise TypeError(
        f"cannot load an image from {type(image).__name__}; pass a path, a sample name, bytes, "
        "a PIL image, a numpy array or a torch tensor"
    )
