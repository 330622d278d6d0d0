"""Pictures in and out of the optimisation: loading, sizes, resizing, the network's input map."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..images import load_image
from ..model.network import Network

__all__ = ["MAX_SIDE", "picture_tensor", "capped_size", "resize", "match_channels", "input_affine"]

#: Longest side of a start picture (or a dream) used at its own size.
MAX_SIDE = 512


def picture_tensor(image: Any) -> torch.Tensor:
    """Any picture ``load_image`` accepts → (1, 3, H, W) float32 in [0, 1] on the CPU."""
    rgb = load_image(image)
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def capped_size(h: int, w: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """(h, w) shrunk (keeping the aspect ratio) so that the longer side is at most ``max_side``."""
    k = max(h, w) / max_side
    if k <= 1:
        return h, w
    return max(1, round(h / k)), max(1, round(w / k))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W), antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, 3, H, W) RGB to the network's channel count (grey by ITU-R 601 luma for one)."""
    if x.shape[1] == channels:
        return x
    if channels == 1 and x.shape[1] == 3:
        w = torch.tensor((0.299, 0.587, 0.114), dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(dim=1, keepdim=True)
    raise ValueError(f"cannot feed {x.shape[1]}-channel pictures to a {channels}-channel network")


def input_affine(
    net: Network, device: torch.device, pixel_scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) with ``a * p + b == net.preprocess.normalize(p / pixel_scale)``, each (1, C, 1, 1)."""
    if net.preprocess.mean is None:
        net.preprocess.normalize(torch.zeros(1))  # raises: the normalisation is hidden, and how to fix it
    mean = torch.tensor(net.preprocess.mean, dtype=torch.float64).view(1, -1, 1, 1)
    std = torch.tensor(net.preprocess.std, dtype=torch.float64).view(1, -1, 1, 1)
    a = 1.0 / (std * pixel_scale)
    b = -mean / std
    return a.float().to(device), b.float().to(device)
