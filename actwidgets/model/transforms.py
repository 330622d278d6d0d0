"""The user's own preprocessing: torchvision's ``weights.transforms()``, a ``Compose`` (v1 or
v2, timm's too), or any callable image → tensor.

:func:`read_transforms` reads the resize, centre crop, to-tensor and normalise steps of a
transform into an exact :class:`Preprocess`, which knows the picture the network sees (for
overlays and for warping a mask like the image). A transform it cannot read (a plain
function, a ``Lambda``) becomes a :class:`CustomPreprocess`: it is applied as it is; the
features that need its geometry say so, the rest works.

>>> from torchvision import transforms as T
>>> read_transforms(T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
...                            T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
Preprocess(size=(224, 224), resize=256, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), interpolation='bilinear')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..images import load_image
from .preprocess import Preprocess, _pair

__all__ = ["read_transforms", "CustomPreprocess"]

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


def read_transforms(transforms: Any) -> Preprocess | "CustomPreprocess":
    """An exact :class:`Preprocess` for a transform whose steps it reads, else a
    :class:`CustomPreprocess` around it (any callable PIL image → (C, H, W) tensor)."""
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
            raise TypeError(
                f"the preprocessing callable must return a (C, H, W) tensor for a PIL image, got "
                f"{type(out).__name__}{' of shape ' + str(tuple(out.shape)) if hasattr(out, 'shape') else ''}")
        return out.float()

    def resized(self, size: int | Sequence[int]) -> "CustomPreprocess":
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
