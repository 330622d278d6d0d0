"""The model zoo: pretrained torchvision networks with the walkthroughs' layer names.

Model-specific facts live in :data:`ZOO`'s entries (builder, name table, input size, the
head that ``head=False`` drops and how to initialise the rest); :func:`load_model` reads them.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)    # random weights, no download
>>> net.layers["fire6-squeeze1x1"].label
'fire6-squeeze1x1 · 48 ch · 14×14'
"""

from __future__ import annotations

import difflib
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import names as _names
from .caffe import convert_caffemodel
from .caffe_nets import CaffeGoogLeNet, googlenet_caffe_names, squeezenet_key
from .layers import NameTable
from .network import Network, classify
from .preprocess import Preprocess
from .weights import (
    RANDOM_WEIGHTS_ENV,
    WeightsFileError,
    WeightsUnavailableError,
    build_headless,
    fetch,
    load_into,
    read_state_dict,
)

__all__ = ["Network", "load_model", "classify", "ZOO", "ZooEntry", "WeightsUnavailableError",
           "WeightsFileError", "RANDOM_WEIGHTS_ENV"]


def _vgg_init(model: nn.Module) -> None:
    """torchvision's own initialisation of VGG's features (its ``__init__`` does this)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


#: Caffe's mean pixel, in RGB order (Caffe lists it as B, G, R = 104, 117, 123).
CAFFE_MEAN_RGB = (123.0, 117.0, 104.0)


@dataclass(frozen=True)
class CaffeWeights:
    """The Caffe weights MATLAB uses for a zoo network (``load_model(name, weights="caffe")``).

    Cached as ``filename`` in torch hub's checkpoints folder, a state dict keyed by Caffe
    layer name with the first layer in Caffe's BGR order; when missing, the original
    ``.caffemodel`` is downloaded from ``url``, checked against ``sha1`` where one is
    published, and converted. ``key`` maps a Caffe key to the model's, ``first`` is the
    first convolution's weight (its input channels are swapped to RGB at load).
    """

    build: Callable[[], nn.Module]
    filename: str
    url: str
    sha1: str | None
    key: Callable[[str], str]
    first: str
    size: int
    names: Callable[[], NameTable]  # built on first use (GoogLeNet's builds a model)
    description: str = ""

    def preprocess(self) -> Preprocess:
        """Caffe's: resize straight to the input size, pixels 0..255 minus the mean pixel."""
        return Preprocess(self.size, None, tuple(m / 255 for m in CAFFE_MEAN_RGB), (1 / 255,) * 3)


@dataclass(frozen=True)
class ZooEntry:
    """How to build one zoo network: the torchvision builder and the walkthrough names."""

    torchvision_name: str
    names: NameTable | None = None
    input_size: int | None = None  # replaces the weights' crop size
    random_kwargs: dict[str, Any] = field(default_factory=dict)  # builder arguments, random weights
    description: str = ""
    head: str | None = None  # the classification head that head=False drops
    init: Callable[[nn.Module], None] | None = None  # initialisation without the head
    caffe: CaffeWeights | None = None  # MATLAB's Caffe weights: weights="caffe"


class Zoo(dict):
    """The zoo's own names, each a :class:`ZooEntry` (builder, name table, input size, head,
    Caffe weights). Any other torchvision classification model works by its own name."""


#: The zoo's own names. Any other torchvision classification model works by its own name.
ZOO: dict[str, ZooEntry] = Zoo({
    "squeezenet": ZooEntry(
        "squeezenet1_1", _names.SQUEEZENET_MATLAB, input_size=227,
        description="SqueezeNet 1.1 with MATLAB's layer names, at MATLAB's 227×227 input",
        caffe=CaffeWeights(  # the SHA-1 is the one OpenCV's model list publishes for this file
            lambda: _torchvision("squeezenet1_1"), "squeezenet_v1.1-caffe.pth",
            "https://github.com/forresti/SqueezeNet/raw/master/SqueezeNet_v1.1/squeezenet_v1.1.caffemodel",
            "3397f026368a45ae236403ccc81cfcbe8ebe1bd0",
            squeezenet_key, "conv1.weight", 227, lambda: _names.SQUEEZENET_MATLAB,
            "DeepScale's Caffe SqueezeNet v1.1 (MATLAB's squeezenet)",
        ),
    ),
    "googlenet": ZooEntry(
        "googlenet", _names.GOOGLENET_MATLAB, random_kwargs={"aux_logits": False, "init_weights": True},
        description="GoogLeNet (Inception v1) with MATLAB's layer names",
        caffe=CaffeWeights(
            CaffeGoogLeNet, "bvlc_googlenet-caffe.pth",
            "http://dl.caffe.berkeleyvision.org/bvlc_googlenet.caffemodel",
            "405fc5acd08a3bb12de8ee5e23a96bec22f08204", lambda k: k.replace("/", "."),
            "conv1/7x7_s2.weight", 224, googlenet_caffe_names,
            "BVLC's Caffe GoogLeNet (MATLAB's googlenet)",
        ),
    ),
    "vgg16": ZooEntry(
        "vgg16", _names.VGG16_KERAS, description="VGG16 with Keras' layer names",
        head="classifier", init=_vgg_init,  # the head is 124M of its 138M parameters
    ),
})


def _torchvision(name: str) -> nn.Module:
    import torchvision

    return torchvision.models.get_model(name, weights=None)


def _entry(name: Any) -> ZooEntry:
    import torchvision

    if not isinstance(name, str):
        raise TypeError(f"name must be a str such as 'squeezenet', got {type(name).__name__}")
    entry = ZOO.get(name.lower())
    if entry is not None:
        return entry
    available = torchvision.models.list_models(module=torchvision.models)
    if name not in available:
        close = difflib.get_close_matches(name, list(ZOO) + available, n=4)
        raise ValueError(
            f"unknown model {name!r}. Zoo names: {', '.join(ZOO)}; or any torchvision "
            f"classification model{' (closest: ' + ', '.join(close) + ')' if close else ''}. "
            "For your own nn.Module use actwidgets.Network.wrap(model, ...)."
        )
    return ZooEntry(name)


def _weights_enum(entry: ZooEntry, weights: Any) -> Any:
    import torchvision

    enum_cls = torchvision.models.get_model_weights(entry.torchvision_name)
    if not isinstance(weights, str):
        return weights
    try:
        return enum_cls[weights]
    except KeyError:
        options = ["DEFAULT", *(m for m in enum_cls.__members__ if m != "DEFAULT")]
        raise ValueError(f"{entry.torchvision_name} has no weights {weights!r}; choose one of "
                         f"{options}, None or a file path") from None


class _Builder:
    """Builds one entry's model: random, from torchvision's weights, or from a file."""

    def __init__(self, entry: ZooEntry, head: bool, seed: int, label: str) -> None:
        import torchvision

        if not head and entry.head is None:
            raise ValueError(f"head=False is available for {[k for k, e in ZOO.items() if e.head]}; "
                             f"{label} keeps its head (load it with head=True)")
        self.entry, self.head, self.seed, self.label = entry, head, seed, label
        self.builder = torchvision.models.get_model_builder(entry.torchvision_name)

    def random(self) -> nn.Module:
        with torch.random.fork_rng(devices=[]):  # seeded, and the global state restored
            torch.manual_seed(self.seed)
            if self.head:
                return self.builder(weights=None, **self.entry.random_kwargs)
            return build_headless(lambda: self.builder(weights=None, **self.entry.random_kwargs),
                                  self.entry.head, None, self.entry.init)

    def pretrained(self, weights_enum: Any) -> nn.Module:
        path = fetch(weights_enum.url, self.label)
        if not self.head:
            return build_headless(lambda: self.builder(weights=None), self.entry.head, path)
        read_state_dict(path, mmap=True)  # a damaged file says so, by name
        return self.builder(weights=weights_enum)

    def caffe(self, random: bool = False) -> nn.Module:
        """MATLAB's Caffe network: converted weights, the first layer swapped to RGB."""
        spec = self.entry.caffe
        assert spec is not None
        if random:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                return spec.build()
        path = fetch(spec.url, self.label, filename=spec.filename, sha1=spec.sha1,
                     convert=convert_caffemodel)
        state = {spec.key(k): v for k, v in read_state_dict(path).items()}
        first = spec.key(spec.first)
        state[first] = state[first].flip(1)  # Caffe's BGR input channels to RGB
        model = spec.build()
        load_into(model, state, path, spec.description)
        return model

    def from_file(self, path: Path) -> nn.Module:
        if not path.is_file():
            raise FileNotFoundError(
                f"no weights file at {path}. Give the path of a state dict saved with "
                "torch.save(model.state_dict(), path), or weights='DEFAULT' or None.")
        model = self.random()
        state = read_state_dict(path)
        if not self.head:
            state = {k: v for k, v in state.items() if not k.startswith(f"{self.entry.head}.")}
        load_into(model, state, path, f"torchvision's {self.entry.torchvision_name}")
        return model


def _is_path(weights: Any) -> bool:
    return isinstance(weights, os.PathLike) or (
        isinstance(weights, str) and (weights.endswith((".pth", ".pt")) or os.sep in weights))


def _without_head(names: NameTable | None, head: str) -> NameTable | None:
    """The name table less the head's walkthrough names."""
    if names is None:
        return None
    inside = lambda native: native == head or native.startswith(f"{head}.")  # noqa: E731
    return replace(names, names={k: v for k, v in names.names.items() if not inside(v[0])},
                   hide=frozenset(n for n in names.hide if not inside(n)))


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

    ``weights``: ``"DEFAULT"`` or a torchvision weights name (through torch hub's cache,
    ``$TORCH_HOME``), ``None`` for random weights, a path to a local state dict
    (``.pth``/``.pt``, loaded with ``weights_only=True``), or ``"caffe"`` for the Caffe
    networks MATLAB's ``squeezenet`` and ``googlenet`` are (DeepScale's SqueezeNet v1.1,
    BVLC's GoogLeNet), with Caffe's preprocessing (0..255 minus the mean pixel, resized
    straight to 227 or 224) and MATLAB's layer names. Images stay RGB: the first layer's
    input channels are swapped from Caffe's BGR when the weights are loaded. When pretrained weights can be
    neither found nor downloaded this raises :class:`WeightsUnavailableError`, unless the
    environment variable ``ACTWIDGETS_RANDOM_WEIGHTS=1`` asks for random weights instead; a
    damaged file raises :class:`WeightsFileError`.

    ``head=False`` drops the classification head where the zoo knows it (VGG16's classifier,
    124M of its 138M parameters), for feature work in little memory; :func:`classify` then
    cannot be used. Random weights are drawn from their own generator seeded with ``seed``:
    the same network every time, and the caller's random state untouched.
    """
    entry = _entry(name)
    label = name.lower() if name.lower() in ZOO else name
    build = _Builder(entry, head, seed, label)
    if weights == "caffe":
        return _load_caffe(entry, build, input_size, device, backend)
    reference = _weights_enum(entry, "DEFAULT")
    pretrained, described = weights is not None, None
    if weights is None:
        model = build.random()
    elif _is_path(weights):
        model, described = build.from_file(Path(weights)), f"weights from {Path(weights).name}"
    else:
        reference = _weights_enum(entry, weights)
        try:
            model, described = build.pretrained(reference), str(reference).split(".")[-1]
        except WeightsUnavailableError as exc:
            if not _random_fallback(label, exc):
                raise
            model, pretrained = build.random(), False
    size = input_size if input_size is not None else entry.input_size
    return Network(
        _ready(model, device), Preprocess.from_transforms(reference.transforms(), size),
        reference.meta.get("categories") if head else None, name=label, pretrained=pretrained,
        names=entry.names if head else _without_head(entry.names, entry.head or ""),
        backend=backend, weights=described, has_head=head,
    )


def _ready(model: nn.Module, device: str | torch.device | None) -> nn.Module:
    """Eval mode, frozen, on ``device``: what a zoo network is handed out as."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model if device is None else model.to(device)


def _load_caffe(entry: ZooEntry, build: _Builder, input_size: Any, device: Any,
                backend: str) -> Network:
    """``load_model(name, weights="caffe")``: MATLAB's Caffe network and its preprocessing."""
    spec = entry.caffe
    if spec is None:
        raise ValueError(f'weights="caffe" is available for {[k for k, e in ZOO.items() if e.caffe]} '
                         f"(MATLAB's Caffe networks); {build.label} has torchvision's weights only")
    if not build.head:
        raise ValueError('head=False is not available with weights="caffe"')
    pretrained = True
    try:
        model = build.caffe()
    except WeightsUnavailableError as exc:
        if not _random_fallback(build.label, exc):
            raise
        model, pretrained = build.caffe(random=True), False
    preprocess = spec.preprocess()
    if input_size is not None:
        preprocess = preprocess.resized(input_size)
    categories = _weights_enum(entry, "DEFAULT").meta.get("categories")  # ImageNet's, same order
    return Network(_ready(model, device), preprocess, categories, name=build.label,
                   pretrained=pretrained, names=spec.names(), backend=backend, weights="Caffe")


def _random_fallback(label: str, exc: WeightsUnavailableError) -> bool:
    """Whether to go on with random weights (``ACTWIDGETS_RANDOM_WEIGHTS=1``), with a warning."""
    from .weights import random_fallback_allowed

    if not random_fallback_allowed():
        return False
    warnings.warn(
        f"{label}: no pretrained weights here; {RANDOM_WEIGHTS_ENV}=1, so the network has "
        f"RANDOM weights. What it shows is not what the trained network sees. ({exc})",
        RuntimeWarning, stacklevel=3,
    )
    return True
