"""What the optimisation maximises, one value per image of the batch.

Activations are (N, C, H, W) maps, or (N, C) for a linear layer (each feature is a "channel"
of one value), or (N, C, ...) in general: everything after the channel axis is averaged.

>>> import torch
>>> acts = torch.arange(24.0).view(2, 3, 2, 2)
>>> channel_mean(acts, torch.tensor([2, 0])).tolist()   # image 0: channel 2, image 1: channel 0
[9.5, 13.5]
"""

from __future__ import annotations

import torch

__all__ = ["pick_channels", "channel_mean", "channels_mean", "mean_square", "redirected_relu"]


def pick_channels(acts: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """(N, ...) channel ``channels[i]`` of image i (one channel per image)."""
    rows = torch.arange(acts.shape[0], device=acts.device)
    return acts[rows, channels.to(acts.device)]


def channel_mean(acts: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """(N,) the mean activation of channel ``channels[i]`` in image i."""
    return pick_channels(acts, channels).reshape(acts.shape[0], -1).mean(dim=1)


def channels_mean(acts: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """(N,) the mean activation of the channels ``channels`` (all of them) in every image."""
    n = acts.shape[0]
    return acts.index_select(1, channels.to(acts.device)).reshape(n, -1).mean(dim=1)


def mean_square(acts: torch.Tensor) -> torch.Tensor:
    """(N,) the mean of the squared activations: how strongly the layer responds at all."""
    n = acts.shape[0]
    return acts.reshape(n, -1).square().mean(dim=1)


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose gradient is redirected for images where the ReLU lets nothing through.

    lucid's trick: where a channel is dead (negative everywhere) in an image, the true
    gradient is zero and gradient ascent cannot start. For such an image the gradient is
    passed through wherever it pushes the input up (towards the ReLU's open side); images
    with any live unit get the exact ReLU gradient. The forward value is the plain ReLU.
    """

    @staticmethod
    def forward(ctx, x):  # type: ignore[override]
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        closed = x <= 0
        relu_grad = grad.masked_fill(closed, 0.0)
        # The optimiser descends on -objective: a positive gradient at a closed unit would
        # push it further down.
        redirected = grad.masked_fill(closed & (grad > 0), 0.0)
        n = x.shape[0]
        live = relu_grad.reshape(n, -1).ne(0).any(dim=1).view(n, *([1] * (x.dim() - 1)))
        return torch.where(live, relu_grad, redirected)


def redirected_relu(x: torch.Tensor) -> torch.Tensor:
    """``relu(x)`` with lucid's redirected gradient (see :class:`_RedirectedReLU`)."""
    return _RedirectedReLU.apply(x)
