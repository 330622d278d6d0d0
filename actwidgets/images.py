"""Load any picture as an RGB uint8 array, and the sample images the notebooks use.

>>> from actwidgets import images
>>> images.load_image(images.sample_image("cat")).shape
(300, 451, 3)
"""

from __future__ import annotations

import io
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

__all__ = [
    "MAX_PIXELS",
    "ImageNotFoundError",
    "load_image",
    "SAMPLE_IMAGES",
    "sample_image",
    "FACE_EYES",
    "eye_mask",
]

MAX_PIXELS: int = 40_000_000
"""Largest image (height * width) that :func:`load_image` accepts."""

SAMPLE_IMAGES: tuple[str, ...] = ("face", "face_eye_closed", "cat", "coffee")

# The "face" sample is astronaut()[_FACE_Y0:_FACE_Y0 + _FACE_SIZE, _FACE_X0:_FACE_X0 + _FACE_SIZE].
_FACE_X0, _FACE_Y0, _FACE_SIZE = 116, 0, 224

FACE_EYES: dict[str, tuple[int, int, int, int]] = {
    # (x0, y0, x1, y1) in the 224 x 224 "face" crop, x = column, exclusive end.
    # "left"/"right" are the astronaut's own: her left eye is on the RIGHT of the picture.
    "left": (117, 95, 145, 110),
    "right": (74, 93, 101, 108),
}


class ImageNotFoundError(FileNotFoundError, ValueError):
    """The image file does not exist (both a FileNotFoundError and a ValueError)."""


# --------------------------------------------------------------------------- load_image


def _is_tensor(x: Any) -> bool:
    return all(hasattr(x, a) for a in ("detach", "cpu", "numpy")) and not isinstance(
        x, np.ndarray
    )


def _check_pixels(h: int, w: int, what: str) -> None:
    if h * w > MAX_PIXELS:
        raise ValueError(
            f"{what} is {w}x{h} = {h * w:,} pixels, more than MAX_PIXELS = {MAX_PIXELS:,}; "
            "resize it first (e.g. PIL's Image.thumbnail((2048, 2048)))"
        )


def _from_pil(img: Image.Image, what: str) -> np.ndarray:
    _check_pixels(img.height, img.width, what)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img).astype(np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(
                f"{what} has 32-bit integer pixels outside 0..65535; convert it to 8 bits first"
            )
        gray = np.round(arr / top * 255.0).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if img.mode == "F":
        return _from_array(np.asarray(img), what)
    rgb = img.convert("RGB")
    return np.array(rgb, dtype=np.uint8)  # np.array: a new, writeable array


def _open_encoded(data: bytes | Path, what: str) -> np.ndarray:
    try:
        src = io.BytesIO(data) if isinstance(data, bytes) else data
        with Image.open(src) as img:
            _check_pixels(img.height, img.width, what)
            upright: Image.Image = ImageOps.exif_transpose(img)
            return _from_pil(upright, what)
    except UnidentifiedImageError:
        raise ValueError(
            f"{what} is not an image file PIL can read; pass a PNG, JPEG, BMP, GIF, TIFF or "
            "WebP file"
        ) from None
    except Image.DecompressionBombError as exc:
        raise ValueError(f"{what} is too large to decode safely ({exc}); resize it first") from None


def _from_array(a: np.ndarray, what: str, *, channels_first: bool = False) -> np.ndarray:
    if a.dtype == np.bool_:
        raise TypeError(
            f"{what} is a bool array; for a mask use a.astype(np.uint8) * 255, "
            "for an image pass uint8 or float in [0, 1]"
        )
    if a.dtype.kind not in "uif":
        raise TypeError(
            f"{what} has dtype {a.dtype}; pass uint8 (0..255) or float (0..1) pixels"
        )
    if a.size == 0:
        raise ValueError(f"{what} is empty (shape {a.shape}); pass a non-empty image")
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and channels_first and a.shape[0] in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[2] not in (1, 3, 4):
        if a.shape[0] in (1, 3, 4):
            raise ValueError(
                f"{what} has shape {a.shape}, which looks channels-first; "
                "move the channels last with np.moveaxis(a, 0, -1)"
            )
        raise ValueError(
            f"{what} has shape {a.shape}; the last axis must hold 1, 3 or 4 channels"
        )
    if a.ndim not in (2, 3):
        raise ValueError(
            f"{what} has shape {a.shape}; pass H x W (gray) or H x W x 1, 3 or 4"
            + (" (one image, not a batch)" if a.ndim == 4 else "")
        )
    h, w = a.shape[:2]
    _check_pixels(h, w, what)
    if a.ndim == 3:
        a = a[:, :, :3] if a.shape[2] == 4 else a
    if a.dtype == np.uint8:
        out = np.array(a, dtype=np.uint8, order="C")
    elif a.dtype.kind == "f":
        lo, hi = float(np.min(a)), float(np.max(a))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{what} contains NaN or inf; replace them, e.g. np.nan_to_num(a)")
        if lo < -1e-6 or hi > 1 + 1e-6:
            raise ValueError(
                f"{what} is float with values in [{lo:.4g}, {hi:.4g}] but float images must lie "
                "in [0, 1]: divide by 255 if it holds 0..255 values, or rescale it with "
                "actwidgets.imageops.mat2gray (for a network input, undo its normalisation first)"
            )
        t = np.multiply(a, 255.0, dtype=np.float64 if a.dtype == np.float64 else np.float32)
        t += 0.5
        np.clip(t, 0, 255, out=t)
        out = t.astype(np.uint8)
    else:  # other integers
        lo, hi = int(np.min(a)), int(np.max(a))
        if lo < 0 or hi > 255:
            raise ValueError(
                f"{what} has integer values in [{lo}, {hi}]; integer images must lie in 0..255 "
                "(for 16-bit data divide by 257 and cast to uint8)"
            )
        out = a.astype(np.uint8)
    if out.ndim == 2:
        out = out[:, :, None]
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def load_image(image: Any) -> np.ndarray:
    """Any picture as a new ``(H, W, 3)`` uint8 RGB array.

    Accepts a path (str or ``pathlib.Path``), the bytes of an image file (e.g. from a
    FileUpload), a PIL image (any mode), a numpy array (H x W, H x W x 1/3/4; uint8, or float
    in [0, 1]; alpha is dropped) or a torch tensor (C x H x W with C in 1/3/4, or H x W x C;
    uint8 or float in [0, 1]). Images over ``MAX_PIXELS`` are refused.

    >>> load_image(np.zeros((2, 3), dtype=np.float32)).shape
    (2, 3, 3)
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image).expanduser()
        what = f"image file '{path}'"
        if not path.exists():
            raise ImageNotFoundError(2, f"no such image file: '{path}'; check the path", str(path))
        if path.is_dir():
            raise ValueError(f"'{path}' is a folder; pass the path of one image file")
        return _open_encoded(path, what)
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        if not data:
            raise ValueError("the image bytes are empty; pass the content of an image file")
        return _open_encoded(data, f"the {len(data):,} bytes given")
    if isinstance(image, Image.Image):
        return _from_pil(image, f"the PIL image ({image.mode}, {image.width}x{image.height})")
    if isinstance(image, np.ndarray):
        return _from_array(image, f"the array of shape {image.shape}")
    if _is_tensor(image):
        t = image.detach().cpu()
        try:
            arr = t.numpy()
        except TypeError:  # e.g. bfloat16
            arr = t.float().numpy()
        return _from_array(arr, f"the tensor of shape {tuple(arr.shape)}", channels_first=True)
    raise TypeError(
        f"cannot load an image from {type(image).__name__}; pass a path, bytes, a PIL image, "
        "a numpy array or a torch tensor"
    )


# --------------------------------------------------------------------------- samples


@lru_cache(maxsize=None)
def _skimage(name: str) -> np.ndarray:
    from skimage import data  # imported lazily: it is slow to import

    arr = np.ascontiguousarray(getattr(data, name)(), dtype=np.uint8)
    arr.flags.writeable = False
    return arr


def _face() -> np.ndarray:
    a = _skimage("astronaut")
    return a[_FACE_Y0 : _FACE_Y0 + _FACE_SIZE, _FACE_X0 : _FACE_X0 + _FACE_SIZE]


def _paint_over(img: np.ndarray, box: tuple[int, int, int, int], blur: float = 2.0) -> np.ndarray:
    """Cover the ellipse inscribed in ``box`` (1 px larger) with the skin just below it.

    Pillow does the work: the picture shifted up by the box height + 2 px is composited
    over the ellipse through a Gaussian-blurred mask, so no hard edge remains.
    """
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    dy = (y1 - y0) + 2
    if x0 < 1 or y0 < 1 or x1 + 1 > w or y1 + dy + 1 > h:
        raise ValueError(f"box {box} is too close to the image border to paint over")
    pil = Image.fromarray(img)
    below = pil.transform(pil.size, Image.Transform.AFFINE, (1, 0, 0, 0, 1, dy))
    mask = Image.new("L", pil.size, 0)
    ImageDraw.Draw(mask).ellipse((x0 - 1, y0 - 1, x1 + 1, y1 + 1), fill=255)
    return np.asarray(Image.composite(below, pil, mask.filter(ImageFilter.GaussianBlur(blur))))


@lru_cache(maxsize=None)
def _sample(name: str) -> np.ndarray:
    if name == "face":
        arr = np.ascontiguousarray(_face())
    elif name == "face_eye_closed":
        arr = _paint_over(_face(), FACE_EYES["left"])
    elif name == "cat":
        arr = _skimage("chelsea")
    elif name == "coffee":
        arr = _skimage("coffee")
    else:  # pragma: no cover - guarded by sample_image
        raise ValueError(name)
    arr = np.array(arr)
    arr.flags.writeable = False
    return arr


def sample_image(name: str) -> np.ndarray:
    """A sample picture as a fresh ``(H, W, 3)`` uint8 array (yours to modify).

    - ``"face"``: a 224 x 224 crop of ``skimage.data.astronaut()`` (rows 0..223, columns
      116..339) around Eileen Collins' face; her eyes are at ``FACE_EYES``.
    - ``"face_eye_closed"``: the same crop with her left eye (``FACE_EYES["left"]``, on the
      right of the picture) painted over: the ellipse in the eye box is replaced by the skin
      just below it, blended with soft edges.
    - ``"cat"``: ``skimage.data.chelsea()`` (300 x 451).
    - ``"coffee"``: ``skimage.data.coffee()`` (400 x 600).

    >>> sample_image("face").shape
    (224, 224, 3)
    """
    if name not in SAMPLE_IMAGES:
        raise ValueError(
            f"unknown sample image {name!r}; choose one of: {', '.join(SAMPLE_IMAGES)}"
        )
    return _sample(name).copy()


def eye_mask(which: str = "both") -> np.ndarray:
    """Bool ``(224, 224)`` mask of the eye boxes in the "face" sample.

    ``which`` is "left" (her left: right of the picture), "right" or "both".

    >>> int(eye_mask("left").sum())
    420
    """
    names = {"left": ("left",), "right": ("right",), "both": ("left", "right")}
    if which not in names:
        raise ValueError(f"which must be 'left', 'right' or 'both', got {which!r}")
    mask = np.zeros((_FACE_SIZE, _FACE_SIZE), dtype=bool)
    for key in names[which]:
        x0, y0, x1, y1 = FACE_EYES[key]
        mask[y0:y1, x0:x1] = True
    return mask
