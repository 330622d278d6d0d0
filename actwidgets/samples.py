"""The sample pictures the tutorials use, and where the face's eyes are.

>>> sample_image("face").shape, SAMPLE_IMAGES
((224, 224, 3), ('face', 'face_eye_closed', 'cat', 'coffee'))
"""

from __future__ import annotations

from functools import cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["SAMPLE_IMAGES", "sample_image", "FACE_EYES", "eye_mask"]

SAMPLE_IMAGES: tuple[str, ...] = ("face", "face_eye_closed", "cat", "coffee")

# The "face" sample is astronaut()[_FACE_Y0:_FACE_Y0 + _FACE_SIZE, _FACE_X0:_FACE_X0 + _FACE_SIZE].
_FACE_X0, _FACE_Y0, _FACE_SIZE = 116, 0, 224

FACE_EYES: dict[str, tuple[int, int, int, int]] = {
    # (x0, y0, x1, y1) in the 224 x 224 "face" crop, x = column, exclusive end.
    # "left"/"right" are the astronaut's own: her left eye is on the RIGHT of the picture.
    "left": (117, 95, 145, 110),
    "right": (74, 93, 101, 108),
}


@cache
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


@cache
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
