"""actwidgets: see what a convolutional network sees, layer by layer and channel by channel.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> acts = aw.activations(net, aw.sample_image("face"), "conv1")
>>> acts.shape
(64, 113, 113)

Importing actwidgets changes no global state: no matplotlib backend, no torch setting, no
network access. The widgets live in :mod:`actwidgets.widgets` and the self-contained pages in
:mod:`actwidgets.export` (both imported on first use).
"""

from __future__ import annotations

from typing import Any

from .analysis import ChannelRanking, channel_stats, freqz2, rank_channels, strongest_channel
from .cache import ByteLRU, set_cache_budget
from .capture import activations
from .extract import ExtractionError, Extractor, preserve_model_state
from .images import ImageError, ImageNotFoundError, load_image
from .model.layers import LayerCatalogue, LayerInfo, LayerNameError
from .model.network import Network, classify
from .model.preprocess import Preprocess
from .model.weights import WeightsFileError, WeightsUnavailableError
from .model.zoo import ZOO, load_model
from .pixels import filter_tiles, imadjust, imtile, mat2gray, overlay, resize, stretchlim
from .samples import SAMPLE_IMAGES, eye_mask, sample_image

__version__ = "0.1.0"

__all__ = [
    # networks
    "load_model", "Network", "classify", "ZOO", "WeightsUnavailableError", "WeightsFileError",
    "Preprocess",
    # layers and extraction
    "activations", "LayerCatalogue", "LayerInfo", "LayerNameError", "Extractor",
    "ExtractionError", "preserve_model_state", "ByteLRU", "set_cache_budget",
    # images
    "load_image", "ImageError", "ImageNotFoundError", "sample_image", "SAMPLE_IMAGES", "eye_mask",
    # image operations
    "mat2gray", "stretchlim", "imadjust", "imtile", "resize", "overlay",
    "strongest_channel", "channel_stats", "rank_channels", "ChannelRanking", "freqz2",
    "filter_tiles",
    # feature visualisation and widgets (imported on first use)
    "visualize_channels", "deep_dream",
    # the channel atlas over an image collection (imported on first use)
    "channel_atlas", "ChannelAtlas",
    # a layer's concepts by matrix factorisation (imported on first use)
    "layer_concepts", "Concepts",
    "ActivationExplorer", "CompareExplorer", "FilterExplorer", "FeatureVisualizer", "ChannelView",
    "ConceptView",
    # pages without a server (imported on first use)
    "export_html", "static_explorer", "StaticExplorer", "ExportTooLargeError",
]

_LAZY = {
    "visualize_channels": "featurevis",
    "deep_dream": "featurevis",
    "channel_atlas": "atlas",
    "ChannelAtlas": "atlas",
    "layer_concepts": "concepts",
    "Concepts": "concepts",
    "ActivationExplorer": "widgets",
    "CompareExplorer": "widgets",
    "FilterExplorer": "widgets",
    "FeatureVisualizer": "widgets",
    "ChannelView": "widgets",
    "ConceptView": "widgets",
    "export_html": "export",
    "static_explorer": "export",
    "StaticExplorer": "export",
    "ExportTooLargeError": "export",
}


def __getattr__(name: str) -> Any:
    # Widgets need ipywidgets, feature visualisation, the channel atlas and the page export
    # are heavier: load them on first use (the atlas imports Ray only when engine="ray" runs).
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'actwidgets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
