"""Image parameterisations: what the optimiser changes, and how that becomes a picture.

Two of them, one per method of :func:`actwidgets.visualize_channels`:

- :class:`PixelImage` (``method="basic"``): the pixels themselves, in 0..255 units, as the
  Keras VGG16 walkthrough keeps its input image. It starts from grey noise
  (:func:`walkthrough_noise`) and is shown with :func:`walkthrough_deprocess`.
- :class:`FourierImage` (``method="regularized"``): lucid/lucent's decorrelated
  parameterisation. The optimiser changes a Fourier spectrum whose entries are scaled by
  1/frequency (so every frequency is equally easy to change, and high-frequency noise no
  longer wins), the spectrum's image is mapped through the square root of the ImageNet colour
  correlation matrix (so the colour axes are decorrelated too) and squashed by a sigmoid into
  [0, 1].

Both return (N, C, H, W) tensors; ``C`` is the network's input channel count (3, or 1 for a
grey network), and :func:`to_rgb` turns them into (N, H, W, 3) numpy pictures.

>>> import torch
>>> p = FourierImage(2, 3, (8, 10), generator=torch.Generator().manual_seed(0))
>>> img = p()
>>> tuple(img.shape), bool(((img > 0) & (img < 1)).all())
((2, 3, 8, 10), True)
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "PixelImage",
    "FourierImage",
    "walkthrough_noise",
    "walkthrough_deprocess",
    "rfft2d_freqs",
    "to_rgb",
    "COLOR_CORRELATION_SVD_SQRT",
    "LUMA",
]

#: Square root of the colour correlation matrix of ImageNet pixels (lucid's constant).
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02],
     [0.27, 0.00, -0.05],
     [0.27, -0.09, 0.03]], dtype=np.float32,
)
_MAX_NORM = float(np.max(np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0)))
_COLOR = COLOR_CORRELATION_SVD_SQRT / _MAX_NORM  # its columns have unit norm at most

#: ITU-R 601 luma weights: RGB → grey, as :class:`actwidgets.Preprocess` does it.
LUMA = (0.299, 0.587, 0.114)

#: lucid divides the spectrum's image by this; larger means less saturated starts.
_FOURIER_DAMPING = 4.0

#: The walkthrough's noise: grey (127 of 255) with a standard deviation of 10.
NOISE_MEAN, NOISE_STD = 127.0, 10.0


# --------------------------------------------------------------------------- basic
def walkthrough_noise(
    channels: int, size: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """(1, C, H, W) float32 noise in 0..255 units: N(127, 10²) per pixel, as in the walkthrough.

    Drawn on the CPU from ``generator``, so a seed gives the same noise on every device.
    """
    h, w = size
    noise = torch.randn((1, channels, h, w), generator=generator, dtype=torch.float32)
    return noise.mul_(NOISE_STD).add_(NOISE_MEAN)


def walkthrough_deprocess(pixels: torch.Tensor) -> torch.Tensor:
    """The walkthrough's display mapping, per image, to [0, 1]: centre each image on 0,
    scale it to a standard deviation of 0.1 (over all its pixels and colours), add 0.5, clip.

    The walkthrough then multiplies by 255 and rounds down to uint8; this keeps floats.
    """
    x = pixels.detach().double()
    flat = x.reshape(x.shape[0], -1)
    mean = flat.mean(dim=1).view(-1, *([1] * (x.dim() - 1)))
    std = flat.std(dim=1, unbiased=False).view(-1, *([1] * (x.dim() - 1)))
    out = (x - mean) / (std + 1e-5) * 0.1 + 0.5
    return out.clamp_(0.0, 1.0).float()


class PixelImage:
    """The pixels themselves, (N, C, H, W) in 0..255 units (the walkthrough's own units).

    ``param`` is the tensor the optimiser changes; calling the object gives [0, 1] pixels
    (``param / 255``, not clipped: the walkthrough feeds its image as it is).
    """

    def __init__(self, start: torch.Tensor, batch: int) -> None:
        if start.dim() != 4 or start.shape[0] != 1:
            raise ValueError(f"start must be (1, C, H, W), got {tuple(start.shape)}")
        self.param = start.expand(batch, -1, -1, -1).clone().requires_grad_(True)

    @property
    def params(self) -> list[torch.Tensor]:
        return [self.param]

    def __call__(self) -> torch.Tensor:
        return self.param / 255.0

    def picture(self) -> torch.Tensor:
        """What to show: the walkthrough's deprocessing, (N, C, H, W) in [0, 1]."""
        return walkthrough_deprocess(self.param)


# --------------------------------------------------------------------------- regularized
def rfft2d_freqs(h: int, w: int) -> np.ndarray:
    """(h, w // 2 + 1) spatial frequency magnitudes (cycles per pixel) of ``rfft2``'s grid."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class FourierImage:
    """lucid's decorrelated image: a 1/f-scaled spectrum, colour-decorrelated, sigmoid.

    ``param`` (N, C, H, W//2+1, 2) holds the real and imaginary parts of the spectrum before
    scaling; it starts as N(0, ``sd``²) noise drawn from ``generator`` (one draw shared by all
    N images, so an image depends on its own seed only), or encodes ``start`` ((1, C, H, W)
    in [0, 1]) exactly, up to clipping away from 0 and 1.

    Calling the object gives the picture in [0, 1]. The optimisation loop uses
    :meth:`signed` instead, ``2 · picture - 1`` (computed as ``tanh(z / 2)``): zero is grey,
    which is what the transforms pad with, and the affine maps back to [0, 1] fold into the
    network's input normalisation. The colour mixing is done on the spectrum (it commutes
    with the per-channel Fourier transform, and the spectrum has half the entries).
    """

    def __init__(
        self,
        batch: int,
        channels: int,
        size: tuple[int, int],
        *,
        generator: torch.Generator | None = None,
        start: torch.Tensor | None = None,
        sd: float = 0.01,
        decay_power: float = 1.0,
        device: torch.device | str = "cpu",
    ) -> None:
        h, w = int(size[0]), int(size[1])
        self.size = (h, w)
        self.channels = channels
        freqs = rfft2d_freqs(h, w)
        scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay_power
        self._scale = torch.as_tensor(scale, dtype=torch.float32, device=device)[None, None, :, :, None]
        # tanh(z / 2) = 2 sigmoid(z) - 1: the halving and lucid's damping fold into the scale.
        self._half_scale = self._scale / (2.0 * _FOURIER_DAMPING)
        self._mix = torch.as_tensor(_COLOR.copy(), device=device)  # y[d] = sum_c _COLOR[d, c] x[c]
        shape = (1, channels, h, w // 2 + 1, 2)
        if start is None:
            init = torch.randn(shape, generator=generator, dtype=torch.float32) * sd
            init = init.to(device)
        else:
            init = self._encode(start.to(device=device, dtype=torch.float32))
        self.param = init.expand(batch, -1, -1, -1, -1).clone().requires_grad_(True)

    @property
    def params(self) -> list[torch.Tensor]:
        return [self.param]

    def _logits(self, scale: torch.Tensor) -> torch.Tensor:
        spectrum = self.param * scale
        if self.channels == 3:
            n = spectrum.shape[0]
            spectrum = torch.matmul(self._mix, spectrum.reshape(n, 3, -1)).view_as(spectrum)
        return torch.fft.irfft2(torch.view_as_complex(spectrum), s=self.size, norm="ortho")

    def signed(self) -> torch.Tensor:
        """``2 · picture - 1``, (N, C, H, W) in (-1, 1): zero is grey."""
        return torch.tanh(self._logits(self._half_scale))

    def __call__(self) -> torch.Tensor:
        return torch.sigmoid(self._logits(self._scale / _FOURIER_DAMPING))

    def picture(self) -> torch.Tensor:
        """What to show: the image itself, (N, C, H, W) in [0, 1]."""
        with torch.no_grad():
            return self()

    def _encode(self, img01: torch.Tensor) -> torch.Tensor:
        """The spectrum parameter whose image is ``img01`` (1, C, H, W)."""
        eps = 1e-2
        x = torch.logit(img01.clamp(eps, 1.0 - eps)) * _FOURIER_DAMPING
        spectrum = torch.view_as_real(torch.fft.rfft2(x, norm="ortho")).contiguous()
        if self.channels == 3:
            inverse = torch.linalg.inv(self._mix)
            spectrum = torch.matmul(inverse, spectrum.reshape(1, 3, -1)).view_as(spectrum)
        return (spectrum / self._scale).contiguous()


# --------------------------------------------------------------------------- output
def to_rgb(images: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) tensor in [0, 1] → (N, H, W, 3) float32 numpy (grey repeated to RGB)."""
    x = images.detach().float().clamp(0.0, 1.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).cpu().numpy(), dtype=np.float32)
