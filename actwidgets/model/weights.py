"""Weight files: where torch hub's cache keeps them, fetching one, and reading it safely.

Errors are types: :class:`WeightsUnavailableError` when a file is neither cached nor
downloadable (offline), :class:`WeightsFileError` when a file is there but damaged or does
not fit the architecture. Both name the file and the way out.

>>> cache_path("squeezenet1_1-b8a52dc0.pth").name
'squeezenet1_1-b8a52dc0.pth'
"""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

__all__ = ["WeightsUnavailableError", "WeightsFileError", "RANDOM_WEIGHTS_ENV", "cache_path",
           "fetch", "read_state_dict", "random_fallback_allowed", "load_into", "build_headless"]

#: Set to "1" to fall back to random weights (with a warning) when none can be had.
RANDOM_WEIGHTS_ENV = "ACTWIDGETS_RANDOM_WEIGHTS"

#: What torch.load raises on a truncated or damaged file.
_DAMAGED = (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError)


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights could be neither found in the cache nor downloaded.

    ``reason`` is the first sentence alone (what is missing, where it was looked for), for a
    caller that offers its own ways out (the command line's ``--random-weights``)."""

    def __init__(self, reason: str, ways_out: str) -> None:
        super().__init__(f"{reason}. Ways out: {ways_out}")
        self.reason = reason


class WeightsFileError(ValueError):
    """A weights file is there but cannot be used: damaged, or another architecture's."""


def random_fallback_allowed() -> bool:
    """Whether ``ACTWIDGETS_RANDOM_WEIGHTS=1`` asks for random weights when none can be had."""
    return os.environ.get(RANDOM_WEIGHTS_ENV, "").strip() == "1"


def cache_path(filename: str) -> Path:
    """Where torch hub's cache (``$TORCH_HOME/hub/checkpoints``) keeps ``filename``."""
    from torch.hub import get_dir

    return Path(get_dir()) / "checkpoints" / filename


def fetch(
    url: str, label: str, *, filename: str | None = None, sha1: str | None = None,
    convert: Callable[[Path, Path], object] | None = None,
) -> Path:
    """The cached weights file for ``url``, downloading it when missing (and allowed).

    ``filename`` names the cached file (default: the URL's); ``sha1`` checks the download, as
    does the SHA-256 prefix a torch hub file name carries (``name-<hex>.pth``);
    ``convert(download, cached)`` turns a download in another format (a ``.caffemodel``) into
    the cached file. The download lands in the cache only once checked (and converted).
    Raises :class:`WeightsUnavailableError` naming the folder and the ways out, or
    :class:`WeightsFileError` for a download that is not intact.
    """
    from torch.hub import HASH_REGEX, download_url_to_file

    path = cache_path(filename or os.path.basename(url))
    if path.is_file():
        return path
    unavailable = WeightsUnavailableError(
        f"pretrained weights for {label} ({path.name}) are neither in the cache folder "
        f"{path.parent} nor downloadable from here ({url})",
        f"run once where the internet is reachable (the file is cached); put {path.name} into "
        f"{path.parent} yourself (TORCH_HOME picks the cache root); pass weights=None for "
        f"random weights; or set {RANDOM_WEIGHTS_ENV}=1 to fall back to random weights.",
    )
    if random_fallback_allowed():
        raise unavailable  # the caller falls back at once, without waiting for a network
    path.parent.mkdir(parents=True, exist_ok=True)
    download = path.with_name((path.name if convert is None else os.path.basename(url)) + ".download")
    try:
        download_url_to_file(url, str(download), None)
    except (OSError, RuntimeError) as exc:  # URLError, socket errors
        raise unavailable from exc
    try:
        match = HASH_REGEX.search(path.name) if convert is None else None
        _check_intact(download, url, sha1, match.group(1) if match else "", path.name)
        if convert is not None:
            convert(download, path)
        else:
            os.replace(download, path)
    finally:
        download.unlink(missing_ok=True)
    return path


def _check_intact(download: Path, url: str, sha1: str | None, sha256_prefix: str, name: str) -> None:
    """A WeightsFileError unless ``download`` has the published SHA-1 and the SHA-256 prefix
    its torch hub file name carries."""
    got = _digest(download, "sha1") if sha1 is not None else sha1
    if got != sha1:
        raise WeightsFileError(f"{url} did not download intact: its SHA-1 is {got}, "
                               f"not the published {sha1}. Try again later.")
    got = _digest(download, "sha256") if sha256_prefix else ""
    if not got.startswith(sha256_prefix):
        raise WeightsFileError(f"{url} did not download intact: its SHA-256 is {got}, not the "
                               f"{sha256_prefix}... its name {name} promises. Try again later.")


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_state_dict(path: Path, *, mmap: bool = False) -> Mapping[str, torch.Tensor]:
    """A state dict from ``path`` (``weights_only``); a damaged file is a WeightsFileError."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except _DAMAGED as exc:
        raise WeightsFileError(
            f"{path} is damaged or not a PyTorch weights file "
            f"({(str(exc).splitlines() or [type(exc).__name__])[0]}). "
            "Delete it and load again to download a fresh copy, or put a good copy there."
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise WeightsFileError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path, what: str) -> None:
    """``model.load_state_dict(state)``; a mismatch is a WeightsFileError naming the file."""
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsFileError(
            f"{path} does not fit {what}: {str(exc).splitlines()[0]} Check that the file "
            "holds this architecture's state dict."
        ) from None


def build_headless(
    build: Callable[[], nn.Module], head: str, path: Path | None,
    init: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Build a model without its ``head`` submodule, never holding the head's weights.

    The model is made on the meta device, the head replaced by an ``Identity``, then
    materialised: from ``path`` (memory-mapped, so the head's tensors are never read), or,
    with no file, initialised by ``init`` (the architecture's own initialisation; each
    module's ``reset_parameters`` when None).
    """
    with torch.device("meta"):
        model = build()
    setattr(model, head, nn.Identity())
    model = model.to_empty(device="cpu")
    if path is None:
        if init is not None:
            init(model)
        else:
            for m in model.modules():
                if m is not model and hasattr(m, "reset_parameters"):
                    m.reset_parameters()
        return model
    state = read_state_dict(path, mmap=True)
    load_into(model, {k: v for k, v in state.items() if not k.startswith(head + ".")}, path,
              f"{type(model).__name__} without its {head}")
    return model
