"""The model zoo: pretrained torchvision networks, or any ``nn.Module``, as a :class:`Network`.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)    # random weights, no download
>>> net.layers["fire6-squeeze1x1"].label
'fire6-squeeze1x1 · 48 ch · 14×14'
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import _aliases
from .cache import DEFAULT_CACHE_BYTES, ByteLRU
from .extract import Extractor
from .layers import LayerCatalogue, LayerInfo, NameTable
from .preprocess import Preprocess

__all__ = [
    "Network", "load_model", "classify", "ZOO", "ZooEntry", "WeightsUnavailableError",
    "RANDOM_WEIGHTS_ENV",
]

#: Set to "1" to fall back to random weights (with a warning) when none can be had.
RANDOM_WEIGHTS_ENV = "ACTWIDGETS_RANDOM_WEIGHTS"


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could be neither found in the cache nor downloaded."""


@dataclass(frozen=True)
class ZooEntry:
    """How to build one zoo network: the torchvision builder and the walkthrough names."""

    torchvision_name: str
    names: NameTable | None = None
    input_size: int | None = None  # replaces the weights' crop size
    random_kwargs: dict[str, Any] = field(default_factory=dict)  # builder arguments, random weights
    description: str = ""
    head: str | None = None  # the classification head that head=False drops


#: The zoo's own names. Any other torchvision classification model works by its own name.
ZOO: dict[str, ZooEntry] = {
    "squeezenet": ZooEntry(
        "squeezenet1_1", _aliases.SQUEEZENET_MATLAB, input_size=227,
        description="SqueezeNet 1.1 with MATLAB's layer names, at MATLAB's 227×227 input",
    ),
    "googlenet": ZooEntry(
        "googlenet", _aliases.GOOGLENET_MATLAB, random_kwargs={"aux_logits": False, "init_weights": True},
        description="GoogLeNet (Inception v1) with MATLAB's layer names",
    ),
    "vgg16": ZooEntry(
        "vgg16", _aliases.VGG16_KERAS, description="VGG16 with Keras' layer names",
        head="classifier",  # 124M of its 138M parameters
    ),
}


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


class Network:
    """A model ready to be looked at: eval-mode model, preprocessing, categories, layers.

    Build one with :func:`load_model` (the zoo) or :meth:`Network.wrap` (any ``nn.Module``).
    The layer catalogue and the extractor are built on first use, from one forward pass at
    the input size.
    """

    def __init__(
        self,
        model: nn.Module,
        preprocess: Preprocess,
        categories: Sequence[str] | None = None,
        *,
        name: str | None = None,
        pretrained: bool = True,
        names: NameTable | None = None,
        backend: str = "auto",
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(preprocess, Preprocess):
            raise TypeError("preprocess must be an actwidgets.Preprocess; see Network.wrap")
        self.model = model
        self.preprocess = preprocess
        self.categories = list(categories) if categories is not None else None
        self.name = name or type(model).__name__
        self.pretrained = bool(pretrained)
        self._names = names
        self._backend = backend
        self._extractor: Extractor | None = None
        self._layers: LayerCatalogue | None = None
        self.cache = ByteLRU(cache_bytes)
        #: False when the zoo dropped the classification head (``load_model(..., head=False)``).
        self.has_head = True
        self._from_zoo = False

    @classmethod
    def wrap(
        cls,
        model: nn.Module,
        preprocess: Preprocess | Any | None = None,
        categories: Sequence[str] | None = None,
        input_size: int | Sequence[int] | None = None,
        *,
        name: str | None = None,
        pretrained: bool = True,
        backend: str = "auto",
    ) -> "Network":
        """Wrap any ``nn.Module`` taking (N, C, H, W) images.

        ``preprocess``: a :class:`Preprocess`, a torchvision ``weights.transforms()``, a dict
        of ``Preprocess`` arguments, or None: then a timm model's own ``pretrained_cfg``
        (input size, mean, std, interpolation, crop) or a torchvision model's weights'
        transforms (and class names) are used; for any other model, a resize to
        ``input_size`` (224 by default), pixels in [0, 1], RGB (grey when the first conv
        takes one channel). ``input_size`` replaces the size those give.

        >>> import actwidgets as aw, torch.nn as nn
        >>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), input_size=32)
        >>> net.layers.names
        ['0', '1']
        """
        from ._configs import known_config

        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if preprocess is None:
            config = known_config(model)
            if config is not None:
                preprocess = config.preprocess
                if input_size is not None:
                    preprocess = preprocess.resized(input_size)
                if categories is None:
                    categories = config.categories
            else:
                first = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
                grey = first is not None and first.in_channels == 1
                zeros, ones = ((0.0,), (1.0,)) if grey else ((0.0,) * 3, (1.0,) * 3)
                preprocess = Preprocess(input_size or 224, None, zeros, ones)
        elif isinstance(preprocess, dict):
            preprocess = Preprocess(**{"size": input_size or 224, **preprocess})
        elif not isinstance(preprocess, Preprocess):
            preprocess = Preprocess.from_transforms(preprocess, input_size)
        elif input_size is not None:
            preprocess = preprocess.resized(input_size)
        return cls(model, preprocess, categories, name=name, pretrained=pretrained, backend=backend)

    def __repr__(self) -> str:
        if not self.pretrained:
            weights = "RANDOM weights"
        else:  # a zoo network's weights are pretrained; a wrapped model's are its own
            weights = "pretrained" if self._from_zoo else "own weights"
        h, w = self.input_size
        return f"Network({self.name!r}, {weights}, input {h}×{w}, device={self.device})"

    # ---------------------------------------------------------------- properties
    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocess.size

    @property
    def device(self) -> torch.device:
        return _device_of(self.model)

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None:
            example = torch.randn(
                1, self.preprocess.channels, *self.input_size,
                generator=torch.Generator().manual_seed(0),
            ).to(self.device)
            self._extractor = Extractor(self.model, example, backend=self._backend)
        return self._extractor

    @property
    def layers(self) -> LayerCatalogue:
        """Every layer, in forward order (see :class:`LayerCatalogue`)."""
        if self._layers is None:
            self._layers = LayerCatalogue(self.extractor, self._names)
        return self._layers

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` for ``name`` (walkthrough, native or container name)."""
        return self.layers.get(name)

    def summary(self) -> str:
        """The layer catalogue as a text table."""
        return f"{self!r}\n{self.layers.summary()}"

    def to(self, device: str | torch.device) -> "Network":
        """Move the model to ``device`` (in place, like ``nn.Module.to``) and drop the cache."""
        self.model.to(device)
        self.cache.clear()
        return self

    def tensor(self, image: Any) -> torch.Tensor:
        """The (1, C, H, W) input batch for ``image``, on the model's device."""
        return self.preprocess.tensor(image).unsqueeze(0).to(self.device)

    def image(self, image: Any) -> "Any":
        """What the network sees of ``image``: (H, W, 3) uint8 at the input size."""
        return self.preprocess.image(image)


# -------------------------------------------------------------------- loading
def _random_fallback_allowed() -> bool:
    return os.environ.get(RANDOM_WEIGHTS_ENV, "").strip() == "1"


def _cached_file(weights_enum: Any) -> Path:
    """Where torchvision's cache keeps (or would keep) this weights file."""
    from torch.hub import get_dir

    return Path(get_dir()) / "checkpoints" / os.path.basename(weights_enum.url)


def _build_with_weights(builder: Any, weights_enum: Any) -> nn.Module:
    cached = _cached_file(weights_enum)
    if not cached.exists() and _random_fallback_allowed():
        raise FileNotFoundError(cached)
    try:
        return builder(weights=weights_enum)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise FileNotFoundError(cached) from exc


def _headless(builder: Any, entry: ZooEntry, weights_enum: Any | None) -> nn.Module:
    """Build without the classification head, never holding its weights in memory."""
    assert entry.head is not None
    with torch.device("meta"):
        model = builder(weights=None, **(entry.random_kwargs if weights_enum is None else {}))
    setattr(model, entry.head, nn.Identity())
    model = model.to_empty(device="cpu")
    if weights_enum is None:
        for m in model.modules():  # torchvision's own initialisation for VGG
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif hasattr(m, "reset_parameters") and m is not model:
                m.reset_parameters()
        return model
    from torch.hub import HASH_REGEX, download_url_to_file

    cached = _cached_file(weights_enum)
    if not cached.exists():
        if _random_fallback_allowed():
            raise FileNotFoundError(cached)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            match = HASH_REGEX.search(cached.name)
            download_url_to_file(weights_enum.url, str(cached), match.group(1) if match else None)
        except OSError as exc:
            raise FileNotFoundError(cached) from exc
    # Memory-mapped: the head's weights are never read into memory.
    state = torch.load(cached, map_location="cpu", weights_only=True, mmap=True)
    prefix = entry.head + "."
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith(prefix)})
    return model


def load_model(
    name: str,
    weights: str | os.PathLike | None = "DEFAULT",
    *,
    input_size: int | Sequence[int] | None = None,
    device: str | torch.device | None = None,
    backend: str = "auto",
    head: bool = True,
    seed: int = 0,
) -> Network:
    """Load a zoo network: ``"squeezenet"``, ``"googlenet"``, ``"vgg16"``, or any other
    torchvision classification model by its torchvision name (``"resnet18"``).

    ``weights``: ``"DEFAULT"`` or a torchvision weights name (through torchvision's cache,
    ``$TORCH_HOME``), ``None`` for random weights, or a path to a local state dict
    (``.pth``/``.pt``, loaded with ``weights_only=True``). When pretrained weights can be
    neither found nor downloaded this raises :class:`WeightsUnavailableError`, unless the
    environment variable ``ACTWIDGETS_RANDOM_WEIGHTS=1`` asks for random weights instead.

    ``head=False`` drops the classification head where the zoo knows it (VGG16's classifier,
    124M of its 138M parameters), for feature work in little memory; :func:`classify` then
    cannot be used.

    Random weights are drawn from their own generator seeded with ``seed``: the same network
    every time, and the caller's random state untouched.
    """
    import torchvision

    if not isinstance(name, str):
        raise TypeError(f"name must be a str such as 'squeezenet', got {type(name).__name__}")
    entry = ZOO.get(name.lower())
    if entry is None:
        available = torchvision.models.list_models(module=torchvision.models)
        if name not in available:
            import difflib

            close = difflib.get_close_matches(name, list(ZOO) + available, n=4)
            raise ValueError(
                f"unknown model {name!r}. Zoo names: {', '.join(ZOO)}; or any torchvision "
                f"classification model{' (closest: ' + ', '.join(close) + ')' if close else ''}. "
                "For your own nn.Module use actwidgets.Network.wrap(model, ...)."
            )
        entry = ZooEntry(name)
    tv_name = entry.torchvision_name
    builder = torchvision.models.get_model_builder(tv_name)
    weights_enum_cls = torchvision.models.get_model_weights(tv_name)
    reference = weights_enum_cls.DEFAULT
    pretrained = weights is not None
    label = name.lower() if name.lower() in ZOO else name

    if not head and entry.head is None:
        raise ValueError(
            f"head=False is available for {[k for k, e in ZOO.items() if e.head]}; "
            f"{label} keeps its head (load it with head=True)"
        )
    def build(w: Any) -> nn.Module:
        if w is not None:
            return _headless(builder, entry, w) if not head else _build_with_weights(builder, w)
        with torch.random.fork_rng(devices=[]):  # seeded, and the global state restored
            torch.manual_seed(seed)
            return _headless(builder, entry, None) if not head else builder(
                weights=None, **entry.random_kwargs
            )

    if weights is None:
        model = build(None)
    elif isinstance(weights, os.PathLike) or (
        isinstance(weights, str) and (weights.endswith((".pth", ".pt")) or os.sep in weights)
    ):
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"no weights file at {path}. Give the path of a state dict saved with "
                "torch.save(model.state_dict(), path), or weights='DEFAULT' or None."
            )
        model = build(None)
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not head:
            state = {k: v for k, v in state.items() if not k.startswith(f"{entry.head}.")}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(
                f"{path} does not fit torchvision's {tv_name}: {str(exc).splitlines()[0]} "
                "Check that the file holds this architecture's state dict."
            ) from exc
    else:
        try:
            reference = weights_enum_cls[weights] if isinstance(weights, str) else weights
        except KeyError:
            options = ["DEFAULT", *weights_enum_cls.__members__]
            raise ValueError(
                f"{tv_name} has no weights {weights!r}; choose one of {options}, None or a file path"
            ) from None
        try:
            model = build(reference)
        except FileNotFoundError as exc:
            cached = Path(str(exc.args[0]))
            if not _random_fallback_allowed():
                raise WeightsUnavailableError(
                    f"pretrained weights for {label} ({cached.name}) are neither in the cache "
                    f"folder {cached.parent} nor downloadable from here. Ways out: run once "
                    f"where the internet is reachable (torchvision caches the file); put "
                    f"{cached.name} into {cached.parent} yourself (TORCH_HOME picks the cache "
                    f"root); pass weights=None for random weights; or set "
                    f"{RANDOM_WEIGHTS_ENV}=1 to fall back to random weights."
                ) from None
            warnings.warn(
                f"{label}: no pretrained weights here ({cached.name} is not in {cached.parent}); "
                f"{RANDOM_WEIGHTS_ENV}=1, so the network has RANDOM weights. What it shows "
                "is not what the trained network sees.",
                RuntimeWarning,
                stacklevel=2,
            )
            model = build(None)
            pretrained = False

    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    if device is not None:
        model.to(device)
    size = input_size if input_size is not None else entry.input_size
    preprocess = Preprocess.from_transforms(reference.transforms(), size)
    categories = reference.meta.get("categories") if head else None
    names = entry.names
    if not head and names is not None:  # the head's walkthrough names go with it
        names = replace(names, names={
            k: v for k, v in names.names.items()
            if v[0] != entry.head and not v[0].startswith(f"{entry.head}.")
        }, hide=frozenset(n for n in names.hide if not n.startswith(f"{entry.head}.")))
    net = Network(
        model, preprocess, categories, name=label, pretrained=pretrained,
        names=names, backend=backend,
    )
    net.has_head = head
    net._from_zoo = True
    return net


def classify(net: Network, image: Any, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` most probable categories of ``image``, as (category, probability) pairs.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> len(aw.classify(net, aw.sample_image("cat"), top=3))
    3
    """
    from .extract import preserve_model_state

    if not isinstance(net, Network):
        raise TypeError("classify takes an actwidgets.Network; see load_model or Network.wrap")
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    if not net.has_head:
        raise ValueError(
            f"{net.name} was loaded with head=False: it has no classifier. "
            f"Load it with actwidgets.load_model({net.name!r}) to classify."
        )
    x = net.tensor(image)
    with preserve_model_state(net.model), torch.no_grad():
        logits = net.model(x)
    if isinstance(logits, (tuple, list)):
        logits = logits[0]
    probs = torch.softmax(logits.reshape(1, -1).float(), dim=1)[0].cpu()
    values, indices = probs.topk(min(top, probs.numel()))
    names = net.categories
    return [
        (names[i] if names is not None and i < len(names) else f"class {i}", float(v))
        for v, i in zip(values.tolist(), indices.tolist())
    ]
