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
from ..model.network import Network
from . import objectives
from .optimize import (
    MAX_SIDE,
    ProgressCallback,
    capped_size,
    caster,
    channel_list,
    check_network,
    input_affine,
    interrupted,
    match_channels,
    model_dtype,
    picture_tensor,
    positive_float,
    positive_int,
    progress_bar,
    resize,
    resolve_point,
    seed_int,
    size_error,
)
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
) -> np.ndarray:
    """``image`` with what ``layer`` (or its ``channels``) responds to amplified: (H, W, 3)
    float32 in [0, 1], at the image's own size (its longer side capped at 512 px).

    ``octaves`` scales ``octave_scale`` apart, ``steps`` steps of ``step_size`` each (see the
    module documentation). Ctrl-C returns the dream so far, with a warning. The model is left
    exactly as it was.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> aw.deep_dream(net, aw.sample_image("cat"), "fire4-concat", steps=1, octaves=2,
    ...               progress=False).shape
    (300, 451, 3)
    """
    check_network(net, "deep_dream")
    if image is None:
        raise ValueError("deep_dream needs an image to dream on (a path, array, PIL image, ...)")
    layer_name, point, count = resolve_point(net, layer, stage)
    chans = None if channels is None else channel_list(channels, count, layer_name)
    octaves = positive_int(octaves, "octaves")
    octave_scale = positive_float(octave_scale, "octave_scale")
    if octave_scale <= 1.0:
        raise ValueError(f"octave_scale must be greater than 1, got {octave_scale}")
    steps = positive_int(steps, "steps")
    step_size = positive_float(step_size, "step_size")
    if max_loss is not None:
        max_loss = float(max_loss)
    seed = seed_int(seed)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(done, total)")

    dev = net.device
    photo = picture_tensor(image)
    hw = capped_size(*photo.shape[-2:], MAX_SIDE)
    photo = resize(photo, hw).to(dev)
    sizes = octave_sizes(hw, octaves, octave_scale)
    bases = [resize(photo, s) for s in sizes]
    a, b = input_affine(net, dev)
    channels_in = net.preprocess.channels
    idx = torch.tensor(chans, dtype=torch.long, device=dev) if chans is not None else None
    gen = torch.Generator().manual_seed(seed)
    shifts = torch.randint(-_JITTER, _JITTER + 1, (len(sizes), steps, 2), generator=gen).tolist()
    ext = net.extractor
    cast = caster(model_dtype(net))
    total = len(sizes) * steps

    img = bases[0].clone()
    done = 0
    with preserve_model_state(net.model, eval_mode=True, freeze=True), torch.enable_grad():
        with progress_bar(total, progress, f"deep dream {layer_name}") as bar:
            try:
                detail = torch.zeros_like(bases[0])
                for o, base in enumerate(bases):
                    detail = resize(detail, tuple(base.shape[-2:]))
                    img = (base + detail).clamp_(0.0, 1.0)
                    for step in range(steps):
                        dy, dx = shifts[o][step]
                        x = torch.roll(img, (dy, dx), dims=(2, 3)).requires_grad_(True)
                        try:
                            acts = ext.run(
                                cast(torch.addcmul(b, match_channels(x, channels_in), a)), [point],
                                grad=True, maps=True,
                            )[point]
                        except RuntimeError as exc:
                            clear = (size_error(exc, tuple(base.shape[-2:]), layer_name, net)
                                     if step == 0 else None)
                            if clear is not None:
                                raise clear from exc
                            raise
                        acts = acts.float()
                        obj = (objectives.mean_square(acts) if idx is None
                               else objectives.channels_mean(acts, idx))
                        (g,) = torch.autograd.grad(obj.sum(), x)
                        g = torch.roll(g, (-dy, -dx), dims=(2, 3))
                        g = g / (g.abs().mean() + 1e-8)
                        img = img.add_(g, alpha=step_size).clamp_(0.0, 1.0)
                        done += 1
                        if bar is not None:
                            bar.update(1)
                        if callback is not None:
                            callback(done, total)
                        if max_loss is not None and float(obj.detach()) > max_loss:
                            skipped = steps - step - 1
                            done += skipped
                            if bar is not None:
                                bar.update(skipped)
                            break
                    detail = img - base
            except KeyboardInterrupt:
                interrupted(done, total, "deep_dream")
    out = img.detach()
    if tuple(out.shape[-2:]) != hw:  # interrupted before the last octave
        out = resize(out, hw)
    return to_rgb(out)[0]
