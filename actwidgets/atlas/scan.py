""":func:`channel_atlas`: scan an image collection for what makes each channel fire.

The scan streams the images through a ``DataLoader`` (decoding and preprocessing in its
workers), runs the network once per batch under ``torch.no_grad()`` on the model's device,
capturing every requested layer at both stages in that one pass, and merges each batch into
a running top-k per channel (:mod:`.topk`), so memory stays layers × channels × k whatever
the number of images. Ctrl-C stops it between batches and returns what is done;
``resume=atlas`` continues from the next unscanned image. ``engine="ray"`` runs the same
scan on Ray Data (:mod:`.ray_engine`). The scan itself is :func:`.run.scan`.

>>> import numpy as np, torch.nn as nn, actwidgets as aw
>>> model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2))
>>> net = aw.Network.wrap(model, input_size=24)
>>> rng = np.random.default_rng(0)
>>> pictures = [rng.integers(0, 255, (30, 40, 3), dtype=np.uint8) for _ in range(5)]
>>> atlas = aw.channel_atlas(net, pictures, ["0", "2"], top=3, score="both", progress=False)
>>> atlas                                                         # doctest: +NORMALIZE_WHITESPACE
ChannelAtlas('Sequential', own weights, 2 layers, stages pre/post, by max/mean, top 3,
             5 images, complete, 0 skipped)
>>> atlas.table("0", stage="pre")["index"].shape     # channels × k
(4, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model.network import Network
from .run import scan
from .store import ChannelAtlas

__all__ = ["channel_atlas"]


def channel_atlas(
    net: Network,
    images: Any,
    layers: Any,
    top: int = 9,
    *,
    stage: str | None = "both",
    score: str | Sequence[str] = "max",
    batch_size: int | None = None,
    num_workers: int | None = None,
    progress: bool = True,
    resume: ChannelAtlas | None = None,
    engine: str = "local",
    actors: int | None = None,
) -> ChannelAtlas:
    """Scan ``images`` and keep, for every channel of ``layers``, the ``top`` images in which
    it fires most, where, and the receptive-field patch around it.

    - ``images``: a folder (searched recursively for the files Pillow reads), a list of
      paths, arrays or anything :func:`~actwidgets.load_image` reads, or a torch
      ``Dataset``/``DataLoader`` of images or ``(image, label)`` pairs (raw images: the
      network's own preprocessing is applied); see :mod:`actwidgets.atlas.sources`.
      Unreadable images are skipped and counted (``atlas.skipped``).
    - ``layers``: a layer name, index or :class:`LayerInfo`, a block (``"fire6"``), or a
      list of them, read as :func:`~actwidgets.activations` reads its ``layer``.
    - ``stage``: ``"both"`` (pre and post, from the same forward pass), ``"pre"``, ``"post"``,
      or None (each layer's default stage), read as :func:`~actwidgets.activations` reads it.
    - ``score``: rank by the channel's ``"max"`` over its map, its ``"mean"``, or both
      (``("max", "mean")`` or ``"both"``, one pass). Ties go to the lower image index.
    - ``batch_size`` (32) and ``num_workers`` (0) for the ``DataLoader``; a ``DataLoader``
      passed as ``images`` gives its own.
    - ``progress``: a tqdm progress bar. Ctrl-C stops the scan between batches and returns
      the atlas of what is done (``atlas.complete`` is False); ``resume=atlas`` (or
      ``atlas.resume(net, images)``) continues from the next unscanned image, after checking
      that the network, its weights, the layers and the images are the same.
    - ``engine``: ``"local"``, or ``"ray"``: Ray Data reads the images in parallel and an
      actor pool of ``actors`` copies of the model (one GPU each where there are GPUs) scans
      them; the result is the same atlas (see :mod:`actwidgets.atlas.ray_engine`).
    """
    if resume is not None and not isinstance(resume, ChannelAtlas):
        raise TypeError(f"resume takes a ChannelAtlas, got {type(resume).__name__}")
    return ChannelAtlas(*scan(
        net, images, layers, top, stage=stage, score=score, batch_size=batch_size,
        num_workers=num_workers, progress=progress, resume=resume.parts if resume else None,
        engine=engine, actors=actors))
