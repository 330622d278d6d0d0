"""Deep dream: amplify what a layer sees in a photo, octave by octave.

The picture is processed from coarse to fine, like the Keras deep dream example and MATLAB's
``deepDreamImage``: the photo is shrunk ``octaves - 1`` times by ``octave_scale``; at each
scale, from the smallest, the dream so far is enlarged, the photo's own detail at that scale is
put back (``base + dream detail``: the same as Keras' "re-inject the lost detail"), and
``steps`` gradient-ascent steps make the layer respond more.

Each step rolls the picture by a random shift (up to 8 px, from a local generator seeded by
``seed``: this hides the grid of strided convolutions), takes the gradient of the objective,
divides it by its mean absolute value, adds ``step_size`` times it (in [0, 1] pixel units) and
clips the pixels to [0, 1]. The objective is the mean of the squared activations of the whole
layer (Keras: amplify whatever the layer responds to), or the mean activation of ``channels``
when given (MATLAB). An octave's ascent stops early once the objective passes ``max_loss``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..extract import preserve_model_state
from ..model.network import Network, check_network
from . import objectives
from ._checks import channel_list, check_callback, positive_float, positive_int, resolve_point, seed_int
from ._pictures import MAX_SIDE, capped_size, input_affine, match_channels, picture_tensor, resize
from ._run import ProgressCallback, Stop, run_steps, sized
from .param import to_rgb

__all__ = ["deep_dream", "octave_sizes", "MIN_OCTAVE_SIDE"]

#: Octaves whose shorter side would fall below this are skipped.
MIN_OCTAVE_SIDE = 32
_JITTER = 8


def octave_sizes(size: tuple[int, int], octaves: int, scale: float) -> list[tuple[int, int]]:
    """The picture sizes from the smallest octave to ``size`` (too small ones left out).

    >>> octave_sizes((280, 140), 3, 2.0)
    [(70, 35), (140, 70), (280, 140)]
    """
    h, w = size
    out = []
    for i in reversed(range(octaves)):
        k = scale**i
        s = (max(1, round(h / k)), max(1, round(w / k)))
        if i == 0 or min(s) >= MIN_OCTAVE_SIDE:
            out.append(s)
    return out


class _Dream:
    """The dream's state across octaves; :meth:`step` is one gradient-ascent step."""

    def __init__(self, net: Network, point: str, photo: torch.Tensor, sizes: list, steps: int,
                 step_size: float, chans: list[int] | None, max_loss: float | None, seed: int) -> None:
        self.net, self.point, self.steps = net, point, steps
        self.step_size, self.max_loss = step_size, max_loss
        dev = photo.device
        self.bases = [resize(photo, s) for s in sizes]
        self.a, self.b = input_affine(net, dev)
        self.idx = torch.tensor(chans, dtype=torch.long, device=dev) if chans is not None else None
        gen = torch.Generator().manual_seed(seed)
        self.shifts = torch.randint(-_JITTER, _JITTER + 1, (len(sizes), steps, 2), generator=gen).tolist()
        self.extractor, self.dtype = net.extractor, net.dtype  # read once per run
        self.img = self.bases[0].clone()
        self.detail = torch.zeros_like(self.bases[0])

    def objective(self, x: torch.Tensor) -> torch.Tensor:
        x = match_channels(x, self.net.preprocess.channels)
        acts = self.extractor.run(torch.addcmul(self.b, x, self.a).to(self.dtype), [self.point],
                                  grad=True, maps=True)[self.point].float()
        return objectives.mean_square(acts) if self.idx is None else objectives.channels_mean(acts, self.idx)

    def step(self, i: int) -> int:
        """Step ``i`` of all octaves; returns the steps of this octave to skip (max_loss)."""
        octave, k = divmod(i, self.steps)
        base = self.bases[octave]
        if k == 0:  # a new octave: the dream so far, enlarged, on this octave's photo
            self.detail = resize(self.detail, tuple(base.shape[-2:]))
            self.img = (base + self.detail).clamp_(0.0, 1.0)
        dy, dx = self.shifts[octave][k]
        x = torch.roll(self.img, (dy, dx), dims=(2, 3)).requires_grad_(True)
        obj = self.objective(x)
        (g,) = torch.autograd.grad(obj.sum(), x)
        g = torch.roll(g, (-dy, -dx), dims=(2, 3))
        self.img = self.img.add_(g / (g.abs().mean() + 1e-8), alpha=self.step_size).clamp_(0.0, 1.0)
        skip = self.steps - k - 1 if self.max_loss is not None and float(obj.detach()) > self.max_loss else 0
        if k + skip == self.steps - 1:
            self.detail = self.img - base
        return skip


def deep_dream(
    net: Network,
    image: Any,
    layer: str,
    *,
    channels: int | Sequence[int] | None = None,
    stage: str | None = None,
    octaves: int = 4,
    octave_scale: float = 1.4,
    steps: int = 10,
    step_size: float = 0.01,
    max_loss: float | None = None,
    progress: bool = True,
    seed: int = 0,
    callback: ProgressCallback | None = None,
    stop: Stop | None = None,
) -> np.ndarray:
    """``image`` with what ``layer`` (or its ``channels``) responds to amplified: (H, W, 3)
    float32 in [0, 1], at the image's own size (its longer side capped at 512 px).

    ``octaves`` scales ``octave_scale`` apart, ``steps`` steps of ``step_size`` each (see the
    module documentation). Ctrl-C, or ``stop`` (a ``threading.Event``) once set, returns the
    dream so far (Ctrl-C with a warning). The model is left exactly as it was.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> aw.deep_dream(net, aw.sample_image("cat"), "fire4-concat", steps=1, octaves=2,
    ...               progress=False).shape
    (300, 451, 3)
    """
    check_network(net, "deep_dream")
    if image is None:
        raise ValueError("deep_dream needs an image to dream on (a path, array, PIL image, ...)")
    layer_name, point, count = resolve_point(net, layer, stage, "deep_dream")
    chans = None if channels is None else channel_list(channels, count, layer_name)
    octaves = positive_int(octaves, "octaves")
    octave_scale = positive_float(octave_scale, "octave_scale")
    if octave_scale <= 1.0:
        raise ValueError(f"octave_scale must be greater than 1, got {octave_scale}")
    steps, step_size = positive_int(steps, "steps"), positive_float(step_size, "step_size")
    max_loss = None if max_loss is None else float(max_loss)
    seed = seed_int(seed)
    check_callback(callback)
    photo = picture_tensor(image)
    hw = capped_size(*photo.shape[-2:], MAX_SIDE)
    sizes = octave_sizes(hw, octaves, octave_scale)
    dream = _Dream(net, point, resize(photo, hw).to(net.device), sizes, steps, step_size, chans,
                   max_loss, seed)
    with preserve_model_state(net.model, eval_mode=True, freeze=True), torch.enable_grad():
        run_steps(sized(dream.step, net, sizes[0], layer_name), len(sizes) * steps, what="deep_dream",
                  progress=progress, callback=callback, stop=stop, desc=f"deep dream {layer_name}")
    out = dream.img.detach()
    if tuple(out.shape[-2:]) != hw:  # stopped before the last octave
        out = resize(out, hw)
    return to_rgb(out)[0]
