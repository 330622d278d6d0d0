"""Turn an RGB picture into the normalised tensor a network expects, and back; the user's own
preprocessing read into one.

:class:`Preprocess` knows the picture the network sees (for overlays and for warping a mask
like the image). :func:`read_transforms` reads the resize, centre crop, to-tensor and
normalise steps of torchvision's ``weights.transforms()`` or a ``Compose`` (v1 or v2, timm's
too) into an exact :class:`Preprocess`; a transform it cannot read (a plain function, a
``Lambda``) becomes a :class:`CustomPreprocess`: it is applied as it is; the features that
need its geometry say so, the rest works.

>>> import numpy as np
>>> pre = Preprocess(size=(4, 4), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
>>> t = pre.tensor(np.full((8, 8, 3), 255, np.uint8))
>>> tuple(t.shape), float(t.max())
((3, 4, 4), 1.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..images import load_image

__all__ = ["Preprocess", "IMAGENET_MEAN", "IMAGENET_STD", "read_transforms", "CustomPreprocess"]

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
        :func:`read_transforms` for other callables.

        ``size`` replaces its crop size, scaling the resize in proportion.
        """
        pre = read_transforms(transforms)
        return pre if size is None else pre.resized(size)

    def resized(self, size: int | Sequence[int]) -> Preprocess:
        """The same preprocessing for another input size, the resize scaled in proportion.

        >>> Preprocess(224, 256).resized(112)
        Preprocess(size=(112, 112), resize=128, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                   interpolation='bilinear')
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


_TENSOR_STEPS = {"ToTensor", "PILToTensor", "ToImage", "ToImageTensor", "ConvertImageDtype",
                 "ToDtype", "ConvertDtype"}


def _interpolation(step: Any) -> str:
    value = str(getattr(getattr(step, "interpolation", None), "value", "bilinear"))
    return value if value in ("nearest", "bilinear", "bicubic") else "bilinear"


def _classification(t: Any) -> Preprocess:
    """torchvision's ``ImageClassification`` (``weights.transforms()``)."""
    return Preprocess(_pair(t.crop_size), int(t.resize_size[0]), tuple(t.mean), tuple(t.std),
                      _interpolation(t))


def _compose(steps: Sequence[Any]) -> Preprocess | None:
    """The Preprocess equal to these steps, or None when one step is not understood."""
    resize: int | tuple[int, int] | None = None
    crop = mean = std = None
    interp, grey, tensor = "bilinear", False, False
    for step in steps:
        kind = type(step).__name__
        if kind == "Resize" and getattr(step, "max_size", None) is None and resize is None and crop is None:
            size = step.size
            if isinstance(size, (list, tuple)):
                resize = int(size[0]) if len(size) == 1 else _pair(size)
            else:
                resize = int(size)
            interp = _interpolation(step)
        elif kind == "CenterCrop" and crop is None:
            crop = _pair(step.size)
        elif kind == "Grayscale" and getattr(step, "num_output_channels", 1) == 1:
            grey = True
        elif kind in _TENSOR_STEPS:
            tensor = True
        elif kind == "Normalize" and mean is None:
            mean, std = tuple(float(m) for m in step.mean), tuple(float(s) for s in step.std)
        else:
            return None
    if not tensor or (resize is None and crop is None):
        return None
    channels = 1 if grey else 3
    mean = mean or (0.0,) * channels
    std = std or (1.0,) * channels
    if crop is None:  # a resize alone: straight to (h, w), or shorter side (no crop: unknown)
        if not isinstance(resize, tuple):
            return None
        return Preprocess(resize, None, mean, std, interp)
    return Preprocess(crop, resize, mean, std, interp)


def _normalisation(steps: Sequence[Any]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    for step in steps:
        if type(step).__name__ == "Normalize":
            return tuple(float(m) for m in step.mean), tuple(float(s) for s in step.std)
    return None


def read_transforms(transforms: Any) -> Preprocess | CustomPreprocess:
    """An exact :class:`Preprocess` for a transform whose steps it reads, else a
    :class:`CustomPreprocess` around it (any callable PIL image → (C, H, W) tensor).

    >>> from torchvision import transforms as T
    >>> read_transforms(T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
    ...                            T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
    Preprocess(size=(224, 224), resize=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
               interpolation='bilinear')
    """
    if isinstance(transforms, Preprocess):
        return transforms
    if all(hasattr(transforms, a) for a in ("crop_size", "resize_size", "mean", "std")):
        return _classification(transforms)
    steps = getattr(transforms, "transforms", None)
    if isinstance(steps, (list, tuple)):
        pre = _compose(steps)
        if pre is not None:
            return pre
    if not callable(transforms):
        raise TypeError(
            f"preprocess must be a Preprocess, a torchvision transform or any callable "
            f"image -> tensor, got {type(transforms).__name__}")
    normal = _normalisation(steps) if isinstance(steps, (list, tuple)) else None
    return CustomPreprocess(transforms, normal)


class CustomPreprocess:
    """Any callable PIL image → (C, H, W) tensor, applied as it is.

    Its resize and crop are hidden, so the picture the network sees is not known: overlays
    use the whole picture, and warping a mask like the image (``mask``) is refused with a
    message. Feature visualisation needs the normalisation: it works when the callable is a
    ``Compose`` with a ``Normalize`` step.
    """

    geometry_known = False

    def __init__(self, fn: Callable[[Image.Image], Any],
                 normal: tuple[tuple[float, ...], tuple[float, ...]] | None = None) -> None:
        self.fn = fn
        probe = self._apply(np.full((256, 256, 3), 128, np.uint8))
        self.channels, self.size = int(probe.shape[0]), (int(probe.shape[1]), int(probe.shape[2]))
        self.mean, self.std = normal if normal is not None else (None, None)
        self.resize = None

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"CustomPreprocess({name}, size={self.size}, channels={self.channels})"

    def _apply(self, picture: np.ndarray) -> torch.Tensor:
        out = self.fn(Image.fromarray(picture))
        if not isinstance(out, torch.Tensor) or out.dim() != 3:
            shape = f" of shape {tuple(out.shape)}" if hasattr(out, "shape") else ""
            raise TypeError(
                f"the preprocessing callable must return a (C, H, W) tensor for a PIL image, got "
                f"{type(out).__name__}{shape}")
        return out.float()

    def resized(self, size: int | Sequence[int]) -> CustomPreprocess:
        if _pair(size) != self.size:
            raise ValueError(f"this preprocessing makes {self.size[0]}×{self.size[1]} inputs; "
                             "it cannot be resized (pass a Preprocess to choose the size)")
        return self

    def image(self, image: Any) -> np.ndarray:
        """The picture handed to the callable (its crop is unknown): the whole picture."""
        return load_image(image)

    def from_picture(self, picture: np.ndarray) -> torch.Tensor:
        out = self._apply(picture)
        if out.shape[0] != self.channels or tuple(out.shape[1:]) != self.size:
            raise ValueError(f"the preprocessing made a {tuple(out.shape)} tensor, not "
                             f"({self.channels}, {self.size[0]}, {self.size[1]}) as for the first image")
        return out

    def tensor(self, image: Any) -> torch.Tensor:
        return self.from_picture(self.image(image))

    def batch(self, images: Sequence[Any]) -> torch.Tensor:
        return torch.stack([self.tensor(im) for im in images])

    def mask(self, mask: np.ndarray) -> np.ndarray:
        raise ValueError(
            "this network's preprocessing is a callable whose resize and crop are hidden, so a "
            "mask cannot be warped like the image. Wrap the network with Preprocess(size=..., "
            "resize=..., mean=..., std=...) (or a torchvision Compose of Resize, CenterCrop, "
            "ToTensor and Normalize) to use masks.")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is None:
            raise ValueError(
                "this network's preprocessing hides its normalisation, which feature "
                "visualisation needs; wrap it with a Compose that ends in Normalize(mean, std), "
                "or with Preprocess(size=..., mean=..., std=...)")
        return Preprocess.normalize(self, x)  # type: ignore[arg-type]  # reads mean and std
