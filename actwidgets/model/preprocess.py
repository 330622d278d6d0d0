"""Turn an RGB picture into the normalised tensor a network expects, and back.

>>> import numpy as np
>>> pre = Preprocess(size=(4, 4), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
>>> t = pre.tensor(np.full((8, 8, 3), 255, np.uint8))
>>> tuple(t.shape), float(t.max())
((3, 4, 4), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..images import load_image

__all__ = ["Preprocess", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
}


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    """(height, width) from an int or a pair of positive ints; a clear error otherwise."""
    items = [size] if isinstance(size, (int, np.integer)) else size
    try:
        pair = tuple(items)
    except TypeError:
        pair = ()
    if len(pair) == 1:
        pair = pair * 2
    if (len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                                  for s in pair) or min(pair) < 1):
        raise ValueError(f"a size must be a positive int or (height, width), got {size!r}")
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class Preprocess:
    """Resize (shorter side to ``resize``, or to exactly ``resize = (h, w)``; then a centre
    crop of ``size``; or, with ``resize=None``, straight to ``size``), scale to [0, 1],
    subtract ``mean``, divide by ``std``. One-entry ``mean``/``std`` make a grey input.
    """

    size: tuple[int, int]
    resize: int | tuple[int, int] | None = None
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"

    #: Whether the picture the network sees is known (a wrapped callable hides it).
    geometry_known = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", _pair(self.size))
        if self.resize is not None and not isinstance(self.resize, (int, np.integer)):
            object.__setattr__(self, "resize", _pair(self.resize))
        if len(self.mean) != len(self.std) or len(self.mean) not in (1, 3):
            raise ValueError("mean and std need 1 (grey) or 3 (RGB) entries each")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std entries must be positive, got {self.std}")
        if self.interpolation not in _RESAMPLE:
            raise ValueError(f"interpolation must be one of {sorted(_RESAMPLE)}")

    @property
    def channels(self) -> int:
        return len(self.mean)

    @classmethod
    def from_transforms(cls, transforms: Any, size: int | Sequence[int] | None = None) -> Any:
        """From a torchvision transform: ``weights.transforms()``, a ``Compose`` (v1 or v2,
        timm's too) of resize, crop, to-tensor and normalise steps; see
        :func:`actwidgets.model.transforms.read_transforms` for other callables.

        ``size`` replaces its crop size, scaling the resize in proportion.
        """
        from .transforms import read_transforms

        pre = read_transforms(transforms)
        return pre if size is None else pre.resized(size)

    def resized(self, size: int | Sequence[int]) -> "Preprocess":
        """The same preprocessing for another input size, the resize scaled in proportion.

        >>> Preprocess(224, 256).resized(112)
        Preprocess(size=(112, 112), resize=128, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), interpolation='bilinear')
        """
        new = _pair(size)
        if self.resize is None:
            return replace(self, size=new)
        if isinstance(self.resize, tuple):
            h, w = self.resize
            return replace(self, size=new, resize=(round(h * new[0] / self.size[0]),
                                                   round(w * new[1] / self.size[1])))
        return replace(self, size=new, resize=round(self.resize * new[0] / self.size[0]))

    # ---------------------------------------------------------------- geometry
    def _geometry(self, height: int, width: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(resized (h, w), crop offset (top, left)) for an input of this size."""
        if self.resize is None:
            return self.size, (0, 0)
        if isinstance(self.resize, tuple):
            h, w = self.resize
            return (h, w), (round((h - self.size[0]) / 2), round((w - self.size[1]) / 2))
        # torchvision's rule: the shorter side becomes `resize`, the longer one is truncated;
        # the centre crop's offsets are rounded.
        if height <= width:
            h, w = self.resize, int(self.resize * width / height)
        else:
            h, w = int(self.resize * height / width), self.resize
        h, w = max(h, self.size[0]), max(w, self.size[1])
        return (h, w), (round((h - self.size[0]) / 2), round((w - self.size[1]) / 2))

    def _warp(self, pil: Image.Image, resample: Image.Resampling) -> Image.Image:
        (h, w), (top, left) = self._geometry(pil.height, pil.width)
        if (pil.height, pil.width) != (h, w):
            pil = pil.resize((w, h), resample)
        if (h, w) != self.size:
            pil = pil.crop((left, top, left + self.size[1], top + self.size[0]))
        return pil

    def image(self, image: Any) -> np.ndarray:
        """The picture the network sees: (H, W, 3) uint8 at the input size."""
        rgb = load_image(image)
        pil = self._warp(Image.fromarray(rgb), _RESAMPLE[self.interpolation])
        return np.asarray(pil, dtype=np.uint8).copy()

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """A boolean mask in the original image's coordinates, warped like the image."""
        mask = np.asarray(mask)
        if mask.ndim != 2:
            raise ValueError(f"a mask is 2-D (height, width), got shape {mask.shape}")
        pil = self._warp(Image.fromarray(mask.astype(np.uint8) * 255), Image.Resampling.NEAREST)
        return np.asarray(pil) > 127

    # ---------------------------------------------------------------- tensors
    def tensor(self, image: Any) -> torch.Tensor:
        """The normalised (C, H, W) float32 tensor for one image."""
        return self.from_picture(self.image(image))

    def from_picture(self, picture: np.ndarray) -> torch.Tensor:
        """The normalised (C, H, W) tensor for a picture already at the input size."""
        if picture.shape[:2] != self.size or picture.dtype != np.uint8:
            raise ValueError(
                f"from_picture takes a {self.size} uint8 picture from Preprocess.image; "
                f"got {picture.shape} {picture.dtype}. Use Preprocess.tensor for any image."
            )
        arr = picture.astype(np.float32) / 255.0
        if self.channels == 1:
            arr = arr @ np.array([0.299, 0.587, 0.114], np.float32)
            arr = arr[..., None]
        t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
        mean = torch.tensor(self.mean, dtype=torch.float32).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(-1, 1, 1)
        return (t - mean) / std

    __call__ = tensor

    def batch(self, images: Sequence[Any]) -> torch.Tensor:
        """The (N, C, H, W) batch for a sequence of images."""
        return torch.stack([self.tensor(im) for im in images])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] pixels (N, C, H, W) → network input (differentiable)."""
        mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std
