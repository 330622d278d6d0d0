"""Transformation robustness: a random pad, jitter, scale and rotation at every step.

lucid's standard transforms (pad 12 px with grey, jitter 8 px, scale 0.9..1.1, rotate
-10..10 degrees, jitter 4 px, for a 224 px image) are applied here as ONE affine resampling
per image with :func:`torch.nn.functional.grid_sample`: every image in the batch gets its own
transform, the whole batch in one call, and the pad costs nothing (pixels that fall outside
the image read as grey 0.5). The distances scale with the image size. The padded picture is
seen through a frame of the picture's own size (as lucid resizes to a fixed input size), so
the network always gets the size asked for.

The random draws for all steps are made up front from one generator per image, seeded by
(seed, channel): a channel's picture depends on its seed only, not on the other channels of
the batch, and there is no per-step random-number work in Python.

>>> import torch
>>> t = RobustnessTransform.sample((16, 16), steps=3, seeds=[1, 2])
>>> t.apply(torch.rand(2, 3, 16, 16), step=0).shape
torch.Size([2, 3, 16, 16])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["RobustnessTransform", "item_seed", "SCALES", "ANGLES"]

#: lucid's scale choices, 1 + (i - 5) / 50 for i in 0..10.
SCALES = tuple(1.0 + (i - 5) / 50.0 for i in range(11))
#: lucid's rotation choices in degrees: -10..10, with 0 five times more likely.
ANGLES = tuple(range(-10, 11)) + (0,) * 5
#: Pad, first and second jitter in pixels at 224 px.
PAD, JITTER1, JITTER2 = 12, 8, 4
_REFERENCE = 224


def item_seed(seed: int, channel: int) -> int:
    """The seed of one batch item's transforms: a function of (seed, channel) only."""
    return (int(seed) * 1_000_003 + int(channel) * 7_919 + 12_345) % (2**63 - 1)


class RobustnessTransform:
    """Per-image random affine transforms for ``steps`` steps, as (steps, N, 2, 3) thetas.

    Build one with :meth:`sample`; :meth:`apply` resamples a batch (N, C, H, W) in [0, 1]
    for step ``step``: the picture padded with grey by ``pad`` on every side, shifted, scaled
    and rotated, seen through a frame of the picture's own size (H, W).
    """

    def __init__(self, thetas: torch.Tensor, size: tuple[int, int], out_size: tuple[int, int]) -> None:
        self.thetas = thetas
        self.size = size
        self.out_size = out_size
        self._device_thetas: dict[torch.device, torch.Tensor] = {}

    @classmethod
    def sample(
        cls,
        size: tuple[int, int],
        steps: int,
        seeds: Sequence[int],
        *,
        pad: float | None = None,
        jitter: float | None = None,
        scales: Sequence[float] = SCALES,
        angles: Sequence[float] = ANGLES,
    ) -> RobustnessTransform:
        """Draw every step's transform for every image; ``seeds[i]`` seeds image i.

        ``pad`` and ``jitter`` (the largest total shift) default to lucid's 12 and 8 + 4 px
        at 224 px, scaled to this size.
        """
        h, w = size
        k = max(h, w) / _REFERENCE
        pad_px = int(round(PAD * k)) if pad is None else int(pad)
        j1 = max(1, int(round(JITTER1 * k)))
        j2 = max(1, int(round(JITTER2 * k)))
        if jitter is not None:
            j1, j2 = int(jitter), 0
        scale_t = torch.tensor(scales, dtype=torch.float64)
        angle_t = torch.tensor(angles, dtype=torch.float64) * (math.pi / 180.0)
        rows = []
        for seed in seeds:
            g = torch.Generator().manual_seed(int(seed))
            shift = (torch.randint(-j1, j1 + 1, (steps, 2), generator=g)
                     + torch.randint(-j2, j2 + 1, (steps, 2), generator=g)).double()
            s = scale_t[torch.randint(len(scales), (steps,), generator=g)]
            a = angle_t[torch.randint(len(angles), (steps,), generator=g)]
            rows.append(torch.cat([shift, s[:, None], a[:, None]], dim=1))
        p = torch.stack(rows, dim=1)  # (steps, N, 4): tx, ty, scale, angle
        # The frame shows the picture with a grey margin of pad_px, resampled to (h, w), so
        # the network sees the size it was asked for (a linear layer needs exactly that).
        ho, wo = h + 2 * pad_px, w + 2 * pad_px
        tx, ty, s, a = p.unbind(-1)
        cos, sin = torch.cos(a) / s, torch.sin(a) / s
        # Output pixel (centred, px) u maps to input pixel R(a)/s · u + t; in grid_sample's
        # normalised coordinates (align_corners=False) that is diag(2/w, 2/h) · (...) with
        # u = diag(wo/2, ho/2) · u_normalised.
        theta = torch.empty(p.shape[:2] + (2, 3), dtype=torch.float64)
        theta[..., 0, 0] = cos * wo / w
        theta[..., 0, 1] = -sin * ho / w
        theta[..., 0, 2] = 2.0 * tx / w
        theta[..., 1, 0] = sin * wo / h
        theta[..., 1, 1] = cos * ho / h
        theta[..., 1, 2] = 2.0 * ty / h
        return cls(theta.float(), (h, w), (h, w))

    def theta(self, step: int, device: torch.device) -> torch.Tensor:
        all_ = self._device_thetas.get(device)
        if all_ is None:
            all_ = self._device_thetas[device] = self.thetas.to(device)
        return all_[step]

    def apply(self, images: torch.Tensor, step: int, *, background: float = 0.5) -> torch.Tensor:
        """Resample ``images`` (N, C, H, W) for step ``step``; outside reads as ``background``
        (grey for [0, 1] pictures; pass 0 for pictures centred on grey, which saves two passes)."""
        n, c = images.shape[:2]
        theta = self.theta(step, images.device).to(images.dtype)
        grid = F.affine_grid(theta, [n, c, *self.out_size], align_corners=False)
        if background:
            images = images - background
        out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False)
        return out + background if background else out
