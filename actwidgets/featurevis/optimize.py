"""Activation maximisation: the picture each channel of a layer responds to most.

:func:`visualize_channels` optimises one picture per requested channel, all of them as ONE
batch (picture i maximises the mean activation of channel i; the pictures do not interact,
since the network runs in eval mode), through a forward pass that stops at the layer.

Two methods:

``"basic"`` — the Keras VGG16 walkthrough's gradient ascent, step for step:

- the picture lives in 0..255 pixel units and starts as grey noise, N(127, 10²) per pixel,
  one noise picture shared by all channels (the walkthrough draws one and reuses it);
- each step takes the gradient of the channel's mean activation with respect to the picture,
  divides it by its root mean square + 1e-5 (per picture) and adds ``lr`` times it
  (``lr`` is the walkthrough's ``step_size``, 1.0; 20 steps; 128×128 pixels by default);
- the result is shown as the walkthrough shows it: centred, scaled to a standard deviation of
  0.1, shifted by 0.5 and clipped to [0, 1] (kept as floats, not rounded to uint8).

  Adaptation: Keras' VGG16 takes its 0..255 picture as it is (the walkthrough feeds it without
  ``preprocess_input``); our networks take mean/std-normalised input, so the picture ``p`` is
  fed as ``(p / 255 - mean) / std`` — a fixed, differentiable first layer. The gradient is
  taken with respect to ``p`` itself, so the update rule, its units and its step size are the
  walkthrough's.

``"regularized"`` (default) — lucid/lucent's recipe, which gives recognisable pictures instead
of high-frequency noise: a decorrelated Fourier parameterisation (:class:`~.param.FourierImage`),
random pad/jitter/scale/rotation every step (:class:`~.transforms.RobustnessTransform`), Adam
with ``lr`` 0.05, 256 steps at the network's input size by default.

Seeds: every random draw comes from local ``torch.Generator`` objects seeded by ``seed``
(the global RNG and global torch settings are never touched); the same seed gives the same
pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..extract import preserve_model_state
from ..model.network import Network, check_network
from . import objectives
from ._checks import (
    ChannelIndexError,
    check_callback,
    check_device,
    positive_float,
    positive_int,
    resolve_point,
    seed_int,
    size_pair,
)
from ._pictures import capped_size, input_affine, match_channels, picture_tensor, resize
from ._run import ProgressCallback, Stop, run_steps, sized
from .param import FourierImage, PixelImage, to_rgb, walkthrough_noise
from .transforms import RobustnessTransform, item_seed

__all__ = ["visualize_channels", "METHODS", "DEFAULTS", "ChannelIndexError"]

#: The optimisation methods.
METHODS = ("regularized", "basic")

#: Per-method defaults: steps, learning rate (step size), picture size (None: the
#: network's input size).
DEFAULTS: dict[str, dict[str, Any]] = {
    "basic": {"steps": 20, "lr": 1.0, "size": (128, 128)},
    "regularized": {"steps": 256, "lr": 0.05, "size": None},
}


def relu_input(net: Network, point: str, example: Callable[[], torch.Tensor]) -> str | None:
    """The point holding the input of ``point`` when ``point`` is a plain ReLU of it, else None.

    Checked on a real input (``example()``): the point must equal ``relu`` of its ``pre``
    value. The regularized method then applies the ReLU itself, with lucid's redirected
    gradient, so that a channel dead on the start picture can still come alive.
    """
    p = net.extractor.point(point)
    if p.kind != "relu" or not p.pre or p.pre == p.name or p.pre not in net.extractor:
        return None
    try:
        with torch.no_grad():
            x = example()
            out = net.extractor.run(x, [p.pre, p.name], maps=True)
    except Exception:  # the check is an optimisation only: fall back to the point itself
        return None
    pre, post = out[p.pre], out[p.name]
    if pre.shape != post.shape or not torch.equal(torch.relu(pre), post):
        return None
    return p.pre


class _Job:
    """One optimisation: the checked arguments, and the step function of its method."""

    def __init__(self, net: Network, point: str, chans: list[int], hw: tuple[int, int],
                 start: torch.Tensor | None, device: torch.device,
                 weights: torch.Tensor | None = None) -> None:
        self.net, self.point, self.hw, self.start, self.dev = net, point, hw, start, device
        self.weights = None if weights is None else weights.to(device)  # (k, C) directions
        self.n = len(chans)
        self.idx = torch.tensor(chans, dtype=torch.long, device=device)
        self.chans = chans
        self.extractor, self.dtype = net.extractor, net.dtype  # read once per run

    def run(self, x: torch.Tensor, point: str) -> torch.Tensor:
        return self.extractor.run(x.to(self.dtype), [point], grad=True, maps=True)[point]

    def basic(self, lr: float, seed: int) -> tuple[Callable[[int], None], Callable[[], torch.Tensor]]:
        """The Keras walkthrough's step: normalised gradient ascent in 0..255 pixel units."""
        gen = torch.Generator().manual_seed(seed)
        channels_in = self.net.preprocess.channels
        p0 = self.start * 255.0 if self.start is not None else walkthrough_noise(channels_in, self.hw, gen)
        image = PixelImage(p0.to(self.dev), self.n)
        a, b = input_affine(self.net, self.dev, pixel_scale=255.0)
        p = image.param

        def step(_: int) -> None:
            acts = self.run(torch.addcmul(b, p, a), self.point)
            obj = (objectives.channel_mean(acts, self.idx) if self.weights is None
                   else objectives.direction_mean(acts, self.weights))
            (g,) = torch.autograd.grad(obj.float().sum(), p)
            rms = g.square().mean(dim=(1, 2, 3), keepdim=True).sqrt_().add_(1e-5)
            with torch.no_grad():
                p.addcdiv_(g, rms, value=lr)

        return step, image.picture

    def regularized(
        self, lr: float, seed: int, steps: int,
    ) -> tuple[Callable[[int], None], Callable[[], torch.Tensor]]:
        """lucid's step: Fourier parameterisation, robustness transforms, Adam."""
        gen = torch.Generator().manual_seed(seed)
        image = FourierImage(self.n, self.net.preprocess.channels, self.hw, generator=gen,
                             start=self.start, device=self.dev)
        transform = RobustnessTransform.sample(self.hw, steps, [item_seed(seed, c) for c in self.chans])
        # The loop works on 2 · picture - 1 (zero is grey, what the transforms pad with);
        # the network input (picture - mean) / std is one fused multiply-add of it.
        a, b = input_affine(self.net, self.dev)
        a, b = a * 0.5, b + a * 0.5
        opt = torch.optim.Adam(image.params, lr=lr)

        def net_input(i: int) -> torch.Tensor:
            return torch.addcmul(b, transform.apply(image.signed(), i, background=0.0), a).to(self.dtype)

        relu_in = relu_input(self.net, self.point, lambda: net_input(0))

        def step(i: int) -> None:
            x = net_input(i)
            acts = self.run(x, relu_in or self.point)
            picked = (objectives.pick_channels(acts, self.idx) if self.weights is None
                      else objectives.weighted_channels(acts, self.weights))
            if relu_in is not None:
                picked = objectives.redirected_relu(picked)
            if self.weights is not None:
                loss = -objectives.direction_mean(picked.float(), self.weights).sum()
            else:
                loss = -picked.reshape(self.n, -1).float().mean(dim=1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        return step, image.picture


def visualize_channels(
    net: Network,
    layer: str,
    channels: int | Sequence[int],
    *,
    stage: str | None = None,
    method: str = "regularized",
    steps: int | None = None,
    lr: float | None = None,
    size: int | tuple[int, int] | None = None,
    seed: int = 0,
    start: Any = None,
    progress: bool = True,
    device: str | torch.device | None = None,
    callback: ProgressCallback | None = None,
    stop: Stop | None = None,
    preview: tuple[int, Callable[[np.ndarray, int, int], None]] | None = None,
) -> np.ndarray:
    """The pictures that make each channel of ``layer`` respond most, (N, H, W, 3) float32 in [0, 1].

    One picture per entry of ``channels``, all optimised as one batch (picture i maximises
    the mean of channel i; of Σ_c w[i, c]·channel c for float directions w). ``stage`` as in
    :func:`activations`; ``method``: ``"regularized"``
    (lucid's, default: 256 Adam steps of ``lr`` 0.05 at the network's input size) or
    ``"basic"`` (the Keras walkthrough's: 20 steps of 1.0 in 0..255 units, 128×128); ``size``
    an int or (h, w) (default as said, or ``start``'s own size, at most 512); ``start`` a
    picture to start from instead of noise; the same ``seed`` gives the same pictures.
    ``callback(done, total)`` is called after each step and ``preview=(every, show)`` calls
    ``show(pictures, done, total)`` every ``every`` steps; ``stop`` (a ``threading.Event``)
    ends the run after the current step, and so does Ctrl-C (with a warning), returning the
    pictures so far. ``device`` must be the model's (it is never moved). The model is left
    exactly as it was (training flags, ``requires_grad``, weights; no hooks).

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> aw.visualize_channels(net, "conv1", [0, 1], steps=2, size=32, progress=False).shape
    (2, 32, 32, 3)
    """
    check_network(net, "visualize_channels")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    layer_name, point, count = resolve_point(net, layer, stage)
    (chans, weights), defaults = objectives.targets(channels, count, layer_name), DEFAULTS[method]
    steps = positive_int(defaults["steps"] if steps is None else steps, "steps")
    lr, seed = positive_float(defaults["lr"] if lr is None else lr, "lr"), seed_int(seed)
    every, show = _preview(preview, callback)
    start_t, hw = _start_and_size(net, start, size, defaults["size"])
    job = _Job(net, point, chans, hw, start_t, check_device(net, device), weights)
    with preserve_model_state(net.model, eval_mode=True, freeze=True), torch.enable_grad():
        step, picture = job.basic(lr, seed) if method == "basic" else job.regularized(lr, seed, steps)

        def after_step(done: int, total: int) -> None:
            if callback is not None:
                callback(done, total)
            if show is not None and done % every == 0 and done < total:
                show(to_rgb(picture()), done, total)

        run_steps(sized(step, net, hw, layer_name), steps, what="visualize_channels", stop=stop,
                  progress=progress, callback=after_step if callback or show else None,
                  desc=f"{layer_name} × {len(chans)} ({method})")
        return to_rgb(picture())


def _preview(preview: Any, callback: Any) -> tuple[int, Callable[[np.ndarray, int, int], None] | None]:
    """``(every, show)`` checked (and the callback); ``(1, None)`` for no preview."""
    check_callback(callback)
    if preview is None:
        return 1, None
    if not (isinstance(preview, tuple) and len(preview) == 2 and type(preview[0]) is int
            and preview[0] >= 1 and callable(preview[1])):
        raise TypeError(f"preview must be (every, show(pictures, done, total)) with every >= 1, "
                        f"got {preview!r}")
    return preview


def _start_and_size(net: Network, start: Any, size: Any,
                    default: Any) -> tuple[torch.Tensor | None, tuple[int, int]]:
    """The start picture (at the pictures' size, in the network's channels) and that size."""
    start_t = picture_tensor(start) if start is not None else None
    if size is not None:
        hw = size_pair(size)
    elif start_t is not None:
        hw = capped_size(*start_t.shape[-2:])
    else:
        hw = size_pair(default or net.input_size)
    if start_t is not None:
        start_t = match_channels(resize(start_t, hw), net.preprocess.channels)
    return start_t, hw
