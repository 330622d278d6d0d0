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


# ---------------------------------------------------------------------- directions (concepts)

__all__ += ["as_directions", "targets", "direction_mean", "weighted_channels"]


def as_directions(value: object, count: int, layer: str) -> torch.Tensor | None:
    """Channel weights as (k, C) float32 directions, from a floating numpy array or tensor
    of shape (C,) or (k, C); None for anything else (channel indices).

    >>> import numpy as np
    >>> as_directions(np.array([0.0, 1.0, 0.5]), 3, "x").shape, as_directions([0, 2], 3, "x")
    (torch.Size([1, 3]), None)
    """
    import numpy as np

    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        value = torch.from_numpy(np.array(value, dtype=np.float32))
    if not (isinstance(value, torch.Tensor) and value.is_floating_point()):
        return None
    weights = value.detach().float().reshape(1, -1) if value.dim() == 1 else value.detach().float()
    if weights.dim() != 2 or weights.shape[1] != count or weights.shape[0] == 0:
        raise ValueError(f"a direction is one weight per channel of {layer!r}: shape ({count},) or "
                         f"(k, {count}), got {tuple(value.shape)}")
    if not bool(torch.isfinite(weights).all()):
        raise ValueError("a direction's weights must be finite numbers")
    return weights.clone()


def targets(channels: object, count: int, layer: str) -> tuple[list[int], torch.Tensor | None]:
    """(picture indices, None) for channel indices; (0..k-1, (k, C) weights) for directions."""
    from ._checks import channel_list

    weights = as_directions(channels, count, layer)
    if weights is None:
        return channel_list(channels, count, layer), None
    return list(range(len(weights))), weights


def direction_mean(acts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(N,) image i's mean over positions of Σ_c ``weights[i, c]`` · channel c: the weighted
    sum of channels (a concept's direction); a one-hot row is :func:`channel_mean`.

    >>> acts = torch.arange(24.0).view(2, 3, 2, 2)
    >>> direction_mean(acts, torch.tensor([[0.0, 0, 1], [1, 0, 0]])).tolist()
    [9.5, 13.5]
    """
    n, c = acts.shape[:2]
    flat = acts.reshape(n, c, -1)
    return torch.einsum("ncp,nc->n", flat, weights.to(flat.device, flat.dtype)) / flat.shape[2]


def weighted_channels(acts: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``acts`` with image i's channels that ``weights[i]`` leaves out (weight 0) set to 0:
    what :func:`redirected_relu` should see, so that it asks whether a channel of the
    direction is live, as it asks of the one channel of :func:`channel_mean`."""
    keep = (weights != 0).to(acts.device, acts.dtype)
    return acts * keep.view(*keep.shape, *([1] * (acts.dim() - 2)))
