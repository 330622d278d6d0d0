"""The Caffe networks behind MATLAB's ``squeezenet`` and ``googlenet``, as PyTorch modules.

- BVLC GoogLeNet (:class:`CaffeGoogLeNet`) from Caffe's ``deploy.prototxt``: no batch
  normalisation, local response normalisation after pool1 and conv2/3x3, real 5×5 branch
  convolutions, Caffe's ceil-mode pooling. Each module is named as Caffe names its layer,
  ``/`` becoming a dot (``inception_3a.5x5``), so MATLAB's names (``/`` → ``-``) map one to one.
- DeepScale SqueezeNet v1.1 has torchvision's ``squeezenet1_1`` topology; only its weights'
  names differ (:func:`squeezenet_key`).

>>> net = CaffeGoogLeNet()
>>> sum(p.numel() for p in net.parameters())
6998552
"""

from __future__ import annotations

import functools
from collections import OrderedDict

import torch
from torch import nn

from .layers import NameTable

__all__ = ["CaffeGoogLeNet", "googlenet_caffe_names", "squeezenet_key", "INCEPTIONS"]

#: Inception blocks: (name, in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj).
INCEPTIONS = (
    ("inception_3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception_3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception_4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception_4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception_4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception_4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception_4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception_5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception_5b", 832, 384, 192, 384, 48, 128, 128),
)
_POOL_AFTER = {"inception_3b": "pool3", "inception_4e": "pool4"}


def _lrn() -> nn.LocalResponseNorm:
    return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)  # Caffe's LRN: the same formula


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(3, stride=2, ceil_mode=True)


class Inception(nn.Module):
    """Four branches (1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3 max pool then 1×1), concatenated."""

    def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int) -> None:
        super().__init__()
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        for name, module in [
            ("1x1", nn.Conv2d(cin, c1, 1)), ("relu_1x1", relu()),
            ("3x3_reduce", nn.Conv2d(cin, c3r, 1)), ("relu_3x3_reduce", relu()),
            ("3x3", nn.Conv2d(c3r, c3, 3, padding=1)), ("relu_3x3", relu()),
            ("5x5_reduce", nn.Conv2d(cin, c5r, 1)), ("relu_5x5_reduce", relu()),
            ("5x5", nn.Conv2d(c5r, c5, 5, padding=2)), ("relu_5x5", relu()),
            ("pool", nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True)),
            ("pool_proj", nn.Conv2d(cin, cp, 1)), ("relu_pool_proj", relu()),
        ]:
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = dict(self.named_children())  # names such as "1x1" are no Python attributes
        b1 = m["relu_1x1"](m["1x1"](x))
        b2 = m["relu_3x3"](m["3x3"](m["relu_3x3_reduce"](m["3x3_reduce"](x))))
        b3 = m["relu_5x5"](m["5x5"](m["relu_5x5_reduce"](m["5x5_reduce"](x))))
        b4 = m["relu_pool_proj"](m["pool_proj"](m["pool"](x)))
        return torch.cat([b1, b2, b3, b4], 1)


def _seq(*items: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(items))


class CaffeGoogLeNet(nn.Module):
    """BVLC GoogLeNet as Caffe's ``deploy.prototxt`` defines it (no auxiliary classifiers)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        self.conv1 = _seq(("7x7_s2", nn.Conv2d(3, 64, 7, stride=2, padding=3)), ("relu_7x7", relu()))
        self.pool1 = _seq(("3x3_s2", _pool()), ("norm1", _lrn()))
        self.conv2 = _seq(("3x3_reduce", nn.Conv2d(64, 64, 1)), ("relu_3x3_reduce", relu()),
                          ("3x3", nn.Conv2d(64, 192, 3, padding=1)), ("relu_3x3", relu()),
                          ("norm2", _lrn()))
        self.pool2 = _seq(("3x3_s2", _pool()))
        for name, *channels in INCEPTIONS:
            self.add_module(name, Inception(*channels))
            if name in _POOL_AFTER:
                self.add_module(_POOL_AFTER[name], _seq(("3x3_s2", _pool())))
        self.pool5 = _seq(("7x7_s1", nn.AvgPool2d(7, stride=1)), ("drop_7x7_s1", nn.Dropout(0.4)))
        self.loss3 = _seq(("classifier", nn.Linear(1024, num_classes)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name, module in self.named_children():
            if name == "loss3":
                x = torch.flatten(x, 1)
            x = module(x)
        return x


@functools.cache
def googlenet_caffe_names() -> NameTable:
    """MATLAB's names: Caffe's with ``/`` as ``-``; a conv's name means its pre-ReLU value.

    Built on first use, not at import: it builds the model to list its modules."""
    names: dict[str, tuple[str, str, str]] = {}
    group = "conv1"
    for qualname, module in CaffeGoogLeNet().named_modules():
        if not qualname or next(module.children(), None) is not None:
            continue
        block = qualname.split(".")[0]
        if block.startswith(("conv", "inception")):
            group = block
        stage = "pre" if isinstance(module, nn.Conv2d) else "post"
        names[qualname.replace(".", "-")] = (qualname, stage, "classifier" if block == "loss3" else group)
    for name, *_ in INCEPTIONS:
        names[f"{name}-output"] = (name, "post", name)  # the block's output: the concat
    return NameTable(names, source="MATLAB's googlenet (BVLC GoogLeNet, Caffe)")


_FIRES = {2: 3, 3: 4, 4: 6, 5: 7, 6: 9, 7: 10, 8: 11, 9: 12}  # fireN -> features index


def squeezenet_key(caffe_key: str) -> str:
    """torchvision's ``squeezenet1_1`` parameter name for a Caffe SqueezeNet v1.1 one.

    >>> squeezenet_key("fire6/squeeze1x1.weight"), squeezenet_key("conv10.bias")
    ('features.9.squeeze.weight', 'classifier.1.bias')
    """
    layer, kind = caffe_key.rsplit(".", 1)
    if layer == "conv1":
        return f"features.0.{kind}"
    if layer == "conv10":
        return f"classifier.1.{kind}"
    fire, part = layer.split("/")
    module = "squeeze" if part == "squeeze1x1" else part
    return f"features.{_FIRES[int(fire[4:])]}.{module}.{kind}"
