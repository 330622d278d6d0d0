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

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..extract import preserve_model_state
from ..images import load_image
from ..model.network import Network
from . import objectives
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

#: Longest side of a start picture (or a dream) used at its own size.
MAX_SIDE = 512

ProgressCallback = Callable[[int, int], None]


class ChannelIndexError(IndexError, ValueError):
    """A channel index outside the layer's channels (both an IndexError and a ValueError)."""


# --------------------------------------------------------------------------- checks
def check_network(net: Any, what: str) -> Network:
    if not isinstance(net, Network):
        raise TypeError(
            f"{what} takes an actwidgets.Network first, got {type(net).__name__}; use "
            "actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
        )
    return net


def resolve_point(net: Network, layer: Any, stage: str | None) -> tuple[str, str, int]:
    """(layer name, extractor point, channel count) for ``layer`` at ``stage``."""
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a layer name (str), got {type(layer).__name__}")
    info = net.layers.get(layer)  # LayerNameError with the closest names
    point_name = info.point(stage)  # ValueError for a bad stage
    point = net.extractor.point(point_name)
    if point.kind == "input":
        raise ValueError(
            f"{layer!r} is the network's input, which has nothing to maximise; pick a layer "
            "from net.layers.names"
        )
    if not point.shape:
        raise ValueError(f"layer {layer!r} has no channel axis; pick a conv, ReLU or linear layer")
    return info.name, point.name, int(point.shape[0])


def channel_list(channels: Any, count: int, layer: str, *, allow_empty: bool = False) -> list[int]:
    """``channels`` (an int, or a sequence/range of ints) checked against ``count``."""
    if isinstance(channels, (bool, np.bool_)):
        raise TypeError("channels must be an int or a sequence of ints, not a bool")
    if isinstance(channels, (int, np.integer)):
        items: list[Any] = [channels]
    elif isinstance(channels, torch.Tensor):
        items = channels.flatten().tolist()
    else:
        try:
            items = list(channels)
        except TypeError:
            raise TypeError(
                f"channels must be an int or a sequence of ints, got {type(channels).__name__}"
            ) from None
    out = []
    for c in items:
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            raise TypeError(f"channel indices are ints, got {c!r} ({type(c).__name__})")
        c = int(c)
        if not 0 <= c < count:
            raise ChannelIndexError(
                f"channel {c} is out of range for layer {layer!r}, which has {count} channels: "
                f"valid indices are 0..{count - 1}"
            )
        out.append(c)
    if not out and not allow_empty:
        raise ValueError(f"channels is empty: give at least one channel of {layer!r} (0..{count - 1})")
    return out


def positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def positive_float(value: Any, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def size_pair(size: Any) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, (bool, np.bool_)):
        size = (size, size)
    try:
        h, w = size
        h, w = positive_int(h, "size"), positive_int(w, "size")
    except (TypeError, ValueError):
        raise ValueError(f"size must be a positive int or (height, width), got {size!r}") from None
    if min(h, w) < 8:
        raise ValueError(f"size must be at least 8×8 pixels, got {h}×{w}")
    return h, w


def check_device(net: Network, device: Any) -> torch.device:
    """The model's device; ``device``, when given, must name it (the model is not moved)."""
    here = net.device
    if device is None:
        return here
    want = torch.device(device)
    same = want.type == here.type and (want.index is None or here.index is None or want.index == here.index)
    if not same:
        raise ValueError(
            f"the model is on {here}, not {want}: the model is never moved behind your back; "
            f"move it first with net.to({str(want)!r}), or leave device=None"
        )
    return here


def seed_int(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------- pictures
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
    mean = torch.tensor(net.preprocess.mean, dtype=torch.float64).view(1, -1, 1, 1)
    std = torch.tensor(net.preprocess.std, dtype=torch.float64).view(1, -1, 1, 1)
    a = 1.0 / (std * pixel_scale)
    b = -mean / std
    return a.float().to(device), b.float().to(device)


# --------------------------------------------------------------------------- running
@contextlib.contextmanager
def progress_bar(total: int, show: bool, desc: str) -> Iterator[Any]:
    """A tqdm.auto bar (or a stand-in with ``update``) that is closed however the body ends."""
    if not show:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, leave=False)
    try:
        yield bar
    finally:
        bar.close()


_SIZE_WORDS = ("size", "shape", "mat1", "dimension")


def size_error(exc: RuntimeError, size: tuple[int, int], layer: str, net: Network) -> ValueError | None:
    """A clear error when the first forward pass fails because of the picture's size."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if not any(word in text.lower() for word in _SIZE_WORDS):
        return None
    h, w = net.input_size
    return ValueError(
        f"the network cannot compute {layer!r} from a {size[0]}×{size[1]} picture ({text}). "
        f"Use a larger size, or the network's input size {h}×{w} if it needs exactly that "
        "(a linear layer does)."
    )


def model_dtype(net: Network) -> torch.dtype:
    """The floating dtype of the model's weights (float32 when it has none)."""
    for p in net.model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def caster(dtype: torch.dtype) -> Callable[[torch.Tensor], torch.Tensor]:
    """The pictures are optimised in float32; a half-precision model gets a cast copy."""
    if dtype == torch.float32:
        return lambda x: x
    return lambda x: x.to(dtype)


def interrupted(done: int, total: int, what: str) -> None:
    warnings.warn(
        f"{what} interrupted after {done} of {total} steps; returning the pictures reached so far",
        RuntimeWarning,
        stacklevel=3,
    )


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
) -> np.ndarray:
    """The pictures that make each channel of ``layer`` respond most, (N, H, W, 3) float32 in [0, 1].

    One picture per entry of ``channels`` (an int or a sequence of ints), in order; all are
    optimised together as one batch, picture i maximising the mean activation of channel i
    (a linear layer's features count as channels of one value).

    - ``stage``: ``"pre"``/``"post"``/None (the layer's default), as in :func:`activations`.
    - ``method``: ``"regularized"`` (lucid-style, default) or ``"basic"`` (the Keras VGG16
      walkthrough's plain gradient ascent); see the module documentation.
    - ``steps``, ``lr``: default 256 and 0.05 (Adam) for ``"regularized"``; 20 and 1.0 (step
      size in 0..255 pixel units) for ``"basic"``.
    - ``size``: an int or (height, width); default: the network's input size for
      ``"regularized"``, 128×128 for ``"basic"``, or the start picture's own size (longer side
      at most 512) when ``start`` is given.
    - ``seed``: the same seed gives the same pictures.
    - ``start``: None (noise), or a picture (anything :func:`load_image` accepts) to start
      from, shared by all channels.
    - ``progress``: show a tqdm progress bar; ``callback(done, total)`` is called after each step.
    - ``device``: must be the model's device (None: it is); the model is never moved.

    The model is left exactly as it was (training flags, ``requires_grad``, weights; no hooks).
    Ctrl-C (KeyboardInterrupt) stops early and returns the pictures reached so far, with a
    warning.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> aw.visualize_channels(net, "conv1", [0, 1], steps=2, size=32, progress=False).shape
    (2, 32, 32, 3)
    """
    check_network(net, "visualize_channels")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")
    layer_name, point, count = resolve_point(net, layer, stage)
    chans = channel_list(channels, count, layer_name)
    defaults = DEFAULTS[method]
    steps = positive_int(defaults["steps"] if steps is None else steps, "steps")
    lr = positive_float(defaults["lr"] if lr is None else lr, "lr")
    seed = seed_int(seed)
    dev = check_device(net, device)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be callable as callback(done, total)")

    start_t = picture_tensor(start) if start is not None else None
    if size is not None:
        hw = size_pair(size)
    elif start_t is not None:
        hw = capped_size(*start_t.shape[-2:])
    else:
        hw = size_pair(defaults["size"] or net.input_size)
    channels_in = net.preprocess.channels
    if start_t is not None:
        start_t = match_channels(resize(start_t, hw), channels_in)

    n = len(chans)
    idx = torch.tensor(chans, dtype=torch.long, device=dev)
    ext = net.extractor
    cast = caster(model_dtype(net))

    with preserve_model_state(net.model, eval_mode=True, freeze=True), torch.enable_grad():
        if method == "basic":
            gen = torch.Generator().manual_seed(seed)
            p0 = start_t * 255.0 if start_t is not None else walkthrough_noise(channels_in, hw, gen)
            image = PixelImage(p0.to(dev), n)
            a, b = input_affine(net, dev, pixel_scale=255.0)
            p = image.param

            def step_fn(step: int) -> None:
                acts = ext.run(cast(torch.addcmul(b, p, a)), [point], grad=True, maps=True)[point]
                obj = objectives.channel_mean(acts, idx)
                (g,) = torch.autograd.grad(obj.float().sum(), p)
                rms = g.square().mean(dim=(1, 2, 3), keepdim=True).sqrt_().add_(1e-5)
                with torch.no_grad():
                    p.addcdiv_(g, rms, value=lr)

        else:
            gen = torch.Generator().manual_seed(seed)
            image = FourierImage(n, channels_in, hw, generator=gen, start=start_t, device=dev)
            transform = RobustnessTransform.sample(hw, steps, [item_seed(seed, c) for c in chans])
            # The loop works on 2 · picture - 1 (zero is grey, what the transforms pad with);
            # the network input (picture - mean) / std is one fused multiply-add of it.
            a, b = input_affine(net, dev)
            a, b = a * 0.5, b + a * 0.5
            opt = torch.optim.Adam(image.params, lr=lr)

            def net_input(step: int) -> torch.Tensor:
                return cast(torch.addcmul(b, transform.apply(image.signed(), step, background=0.0), a))

            relu_in = relu_input(net, point, lambda: net_input(0))

            def step_fn(step: int) -> None:
                x = net_input(step)
                if relu_in is not None:
                    picked = objectives.pick_channels(ext.run(x, [relu_in], grad=True, maps=True)[relu_in], idx)
                    picked = objectives.redirected_relu(picked)
                else:
                    picked = objectives.pick_channels(ext.run(x, [point], grad=True, maps=True)[point], idx)
                loss = -picked.reshape(n, -1).float().mean(dim=1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

        done = 0
        desc = f"{layer_name} × {n} ({method})"
        with progress_bar(steps, progress, desc) as bar:
            try:
                for step in range(steps):
                    try:
                        step_fn(step)
                    except RuntimeError as exc:
                        clear = size_error(exc, hw, layer_name, net) if step == 0 else None
                        if clear is not None:
                            raise clear from exc
                        raise
                    done += 1
                    if bar is not None:
                        bar.update(1)
                    if callback is not None:
                        callback(done, steps)
            except KeyboardInterrupt:
                interrupted(done, steps, "visualize_channels")
        return to_rgb(image.picture())
