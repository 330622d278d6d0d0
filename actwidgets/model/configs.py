"""A model's own preprocessing and class names, read from its library: timm's
``pretrained_cfg`` and torchvision's weights, so nobody types mean, std or sizes by hand.

>>> import torchvision
>>> cfg = known_config(torchvision.models.resnet18())
>>> cfg.source, cfg.preprocess.size, cfg.preprocess.resize, len(cfg.categories)
("torchvision's ResNet18_Weights.IMAGENET1K_V1", (224, 224), 256, 1000)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

from torch import nn

from .preprocess import Preprocess

__all__ = ["ModelConfig", "known_config"]


@dataclass(frozen=True)
class ModelConfig:
    """What a library says about a model: its preprocessing, class names, and where from."""

    preprocess: Preprocess
    categories: list[str] | None = field(repr=False)
    source: str


def _timm_config(model: nn.Module) -> ModelConfig | None:
    cfg = getattr(model, "pretrained_cfg", None)
    timm = sys.modules.get("timm")  # a timm model means timm is imported already
    if not isinstance(cfg, dict) or timm is None:
        return None
    from timm.data import resolve_model_data_config

    data = resolve_model_data_config(model)
    _, h, w = data["input_size"]
    crop = float(data.get("crop_pct") or 1.0)
    resize = math.floor(min(h, w) / crop) if data.get("crop_mode", "center") == "center" else None
    interp = data.get("interpolation", "bilinear")
    pre = Preprocess((h, w), resize, tuple(data["mean"]), tuple(data["std"]),
                     interp if interp in ("nearest", "bilinear", "bicubic") else "bilinear")
    categories = None
    if getattr(model, "num_classes", None) == 1000:
        try:
            from timm.data import ImageNetInfo

            categories = list(ImageNetInfo().label_descriptions(as_dict=False))
        except Exception:  # older timm: no bundled names
            categories = None
    name = cfg.get("architecture", type(model).__name__)
    tag = f".{cfg['tag']}" if cfg.get("tag") else ""
    return ModelConfig(pre, categories, f"timm's pretrained_cfg of {name}{tag}")


def _torchvision_config(model: nn.Module) -> ModelConfig | None:
    module = type(model).__module__
    if not module.startswith("torchvision.models"):
        return None
    import torchvision

    params = sum(p.numel() for p in model.parameters())
    family = []
    for name in torchvision.models.list_models(module=torchvision.models):
        builder = torchvision.models.get_model_builder(name)
        if builder.__module__ == module:
            family.append(torchvision.models.get_model_weights(name).DEFAULT)
    exact = [w for w in family if w.meta.get("num_params") == params]
    if exact:
        weights = exact[0]
    elif family and len({repr(w.transforms()) for w in family}) == 1:
        weights = family[0]  # another head, one preprocessing for the whole family
    else:
        return None
    pre = Preprocess.from_transforms(weights.transforms())
    categories = weights.meta.get("categories") if exact else None
    return ModelConfig(pre, categories, f"torchvision's {weights}")


def known_config(model: nn.Module) -> ModelConfig | None:
    """The preprocessing and class names timm or torchvision give for ``model``, or None."""
    return _timm_config(model) or _torchvision_config(model)
