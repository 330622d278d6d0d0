"""A model ready to be looked at: :class:`Network` (model, preprocessing, class names, layers)
and :func:`classify`.

>>> import actwidgets as aw, torch.nn as nn
>>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), input_size=32)
>>> net
Network('Sequential', own weights, input 32×32, device=cpu)
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from .._torch_compat import CONV, compiled_original
from ..cache import CacheView
from ..extract import ExtractionError, Extractor, preserve_model_state
from .layers import LayerCatalogue, LayerInfo, NameTable
from .preprocess import Preprocess

__all__ = ["Network", "classify", "check_network"]


def check_network(net: Any, who: str) -> Network:
    """``net`` if it is a :class:`Network`, else a TypeError that says how to get one."""
    if not isinstance(net, Network):
        raise TypeError(
            f"{who} takes an actwidgets.Network, got {type(net).__name__}; use "
            "actwidgets.load_model(...) or actwidgets.Network.wrap(model, ...)"
        )
    return net


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _uncompiled(model: nn.Module) -> nn.Module:
    """The module a ``torch.compile`` wrapper holds (with a warning saying so), else ``model``."""
    original = compiled_original(model)
    if original is not None:
        warnings.warn(
            "the model is compiled by torch.compile, whose generated code no hook or trace "
            "can look into: actwidgets uses the module you compiled (model._orig_mod) instead; "
            "its values are the same up to rounding.", UserWarning, stacklevel=3)
        return original
    return model


def _dtype_of(model: nn.Module) -> torch.dtype:
    """The dtype inputs are cast to: the first floating parameter's (float32 if none)."""
    for tensor in model.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


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
        weights: str | None = None,
        has_head: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        model = _uncompiled(model)
        if not hasattr(preprocess, "from_picture"):
            raise TypeError("preprocess must be an actwidgets.Preprocess (or what Network.wrap "
                            "makes of a torchvision transform or a callable)")
        self.model = model
        self.preprocess = preprocess
        self.categories = list(categories) if categories is not None else None
        self.name = name or type(model).__name__
        self.pretrained = bool(pretrained)
        self._names = names
        self._backend = backend
        self._extractor: Extractor | None = None
        self._layers: LayerCatalogue | None = None
        self._built_on: tuple = ()  # the input shape the extractor was built on
        self._generation = 0  # one more each time the extractor is rebuilt
        self._checked = threading.local()  # inside checked(): the model was checked already
        #: This network's entries in the process-wide activation cache (one budget for all).
        self.cache = CacheView()
        #: False when the zoo dropped the classification head (``load_model(..., head=False)``).
        self.has_head = has_head
        #: Which weights, in a few words ("IMAGENET1K_V1", "own weights", "RANDOM weights").
        self.weights = "RANDOM weights" if not self.pretrained else (weights or "own weights")

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
    ) -> Network:
        """Wrap any ``nn.Module`` taking (N, C, H, W) images.

        ``preprocess``: a :class:`Preprocess`, a torchvision ``weights.transforms()``, the
        ``Compose`` from your training script (v1 or v2; timm's too), any callable PIL image →
        tensor (applied as it is; see :class:`~actwidgets.model.preprocess.CustomPreprocess`),
        a dict of ``Preprocess`` arguments, or None: then a timm model's own ``pretrained_cfg``
        (input size, mean, std, interpolation, crop) or a torchvision model's weights'
        transforms (and class names) are used; for any other model, a resize to
        ``input_size`` (224 by default), pixels in [0, 1], RGB (grey when the first conv
        takes one channel). ``input_size`` replaces the size those give.

        >>> import actwidgets as aw, torch.nn as nn
        >>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), input_size=32)
        >>> net.layers.names
        ['0', '1']
        """
        from .configs import known_config

        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        model = _uncompiled(model)
        if preprocess is None:
            config = known_config(model)
            if config is not None:
                preprocess = config.preprocess
                if input_size is not None:
                    preprocess = preprocess.resized(input_size)
                if categories is None:
                    categories = config.categories
            else:
                first = next((m for m in model.modules() if isinstance(m, CONV)), None)
                grey = first is not None and first.in_channels == 1
                zeros, ones = ((0.0,), (1.0,)) if grey else ((0.0,) * 3, (1.0,) * 3)
                preprocess = Preprocess(224 if input_size is None else input_size, None, zeros, ones)
        elif isinstance(preprocess, dict):
            preprocess = Preprocess(**{"size": 224 if input_size is None else input_size, **preprocess})
        elif not isinstance(preprocess, Preprocess):
            preprocess = Preprocess.from_transforms(preprocess, input_size)
        elif input_size is not None:
            preprocess = preprocess.resized(input_size)
        return cls(model, preprocess, categories, name=name, pretrained=pretrained, backend=backend)

    def __repr__(self) -> str:
        h, w = self.input_size
        return f"Network({self.name!r}, {self.weights}, input {h}×{w}, device={self.device})"

    # ---------------------------------------------------------------- properties
    @property
    def input_size(self) -> tuple[int, int]:
        return self.preprocess.size

    @property
    def device(self) -> torch.device:
        return _device_of(self.model)

    @property
    def dtype(self) -> torch.dtype:
        """The model's floating-point type; inputs are cast to it (float64 and half work)."""
        return _dtype_of(self.model)

    @property
    def extractor(self) -> Extractor:
        """The :class:`Extractor`, built on first use and rebuilt when the model changed in a
        way it depends on (``extractor.rebuilt_because`` says how) or the input size did."""
        if self._extractor is not None and getattr(self._checked, "depth", 0):
            return self._extractor
        built_on = (self.input_size, self.preprocess.channels)
        reason = None
        if self._extractor is not None:
            reason = (f"the input became {built_on[1]}×{built_on[0][0]}×{built_on[0][1]}"
                      if built_on != self._built_on else self._extractor.stale())
        if self._extractor is None or reason:
            self._extractor, self._layers = self._build(), None
            self._extractor.rebuilt_because = reason
            self._built_on = built_on
            self._generation += 1
        return self._extractor

    @contextlib.contextmanager
    def checked(self) -> Iterator[Network]:
        """Check the model for changes once, then use ``extractor`` and ``layers`` as they are
        until the block ends (in this thread): what one public call does, whatever the number
        of layers it asks for.

        >>> import actwidgets as aw, torch.nn as nn
        >>> net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), input_size=32)
        >>> with net.checked():
        ...     [net.layers.resolve(n, "post") for n in net.layers.names]
        ['1', '1']
        """
        _ = self.extractor
        self._checked.depth = getattr(self._checked, "depth", 0) + 1
        try:
            yield self
        finally:
            self._checked.depth -= 1

    def state_key(self) -> int:
        """What a computed value depends on besides its input: the extractor's build (hooks,
        attributes, replaced tensors), the preprocessing, every parameter's and buffer's
        version (an optimiser step, ``load_state_dict``). A write through ``.data`` shows in
        none of them: call ``net.cache.clear()`` after one."""
        ext = self.extractor
        return hash((self._generation, ext.refreshed, id(self.preprocess), ext.versions()))

    def _build(self) -> Extractor:
        example = torch.randn(
            1, self.preprocess.channels, *self.input_size,
            generator=torch.Generator().manual_seed(0),
        ).to(self.device, self.dtype)
        try:
            return Extractor(self.model, example, backend=self._backend)
        except (RuntimeError, AssertionError, ValueError) as exc:  # a size check fails
            if isinstance(exc, ExtractionError):
                raise
            h, w = self.input_size
            raise ExtractionError(
                f"{self.name} cannot run on a {self.preprocess.channels}×{h}×{w} input "
                f"({str(exc).splitlines()[0]}). If it takes another size, say which: "
                "Network.wrap(model, input_size=(H, W)) (or a preprocess that makes it)."
            ) from exc

    @property
    def layers(self) -> LayerCatalogue:
        """Every layer, in forward order (see :class:`LayerCatalogue`)."""
        extractor = self.extractor  # rebuilt (and the catalogue dropped) if the model changed
        if self._layers is None:
            self._layers = LayerCatalogue(extractor, self._names)
        return self._layers

    def layer(self, name: str) -> LayerInfo:
        """The :class:`LayerInfo` for ``name`` (walkthrough, native or container name)."""
        return self.layers.get(name)

    def summary(self) -> str:
        """The layer catalogue as a text table."""
        return f"{self!r}\n{self.layers.summary()}"

    def to(self, device: str | torch.device) -> Network:
        """Move the model to ``device`` (in place, like ``nn.Module.to``) and drop the cache."""
        self.model.to(device)
        self.cache.clear()
        return self

    def tensor(self, image: Any) -> torch.Tensor:
        """The (1, C, H, W) input batch for ``image``, on the model's device."""
        return self.preprocess.tensor(image).unsqueeze(0).to(self.device, self.dtype)

    def image(self, image: Any) -> Any:
        """What the network sees of ``image``: (H, W, 3) uint8 at the input size."""
        return self.preprocess.image(image)


def classify(net: Network, image: Any, top: int = 5) -> list[tuple[str, float]]:
    """The ``top`` most probable categories of ``image``, as (category, probability) pairs.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> len(aw.classify(net, aw.sample_image("cat"), top=3))
    3
    """
    check_network(net, "classify")
    if not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a positive int, got {top!r}")
    if not net.has_head:
        raise ValueError(
            f"{net.name} was loaded with head=False: it has no classifier. "
            f"Load it with actwidgets.load_model({net.name!r}) to classify."
        )
    net.extractor  # noqa: B018 - a model that cannot run at the input size says which to give
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
        for v, i in zip(values.tolist(), indices.tolist(), strict=True)
    ]
