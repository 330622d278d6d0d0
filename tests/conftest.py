"""Shared fixtures: the real SqueezeNet weights from ../shared/torch-home, offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SQUEEZENET_FILE = "squeezenet1_1-b8a52dc0.pth"
_REPO = Path(__file__).resolve().parents[1]
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"

# Point torchvision's cache at the shared weights when the caller has not chosen one.
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)


def squeezenet_weights_path() -> Path | None:
    home = os.environ.get("TORCH_HOME")
    if not home:
        return None
    path = Path(home) / "hub" / "checkpoints" / SQUEEZENET_FILE
    return path if path.is_file() else None


@pytest.fixture(scope="session")
def squeezenet():
    """SqueezeNet 1.1 with its real ImageNet weights (skips where the file is absent)."""
    if squeezenet_weights_path() is None:
        pytest.skip(
            f"real SqueezeNet weights not found: set TORCH_HOME to a folder holding "
            f"hub/checkpoints/{SQUEEZENET_FILE} (../shared/torch-home in this project)"
        )
    import actwidgets as aw

    return aw.load_model("squeezenet")


@pytest.fixture(scope="session")
def face():
    import actwidgets as aw

    return aw.sample_image("face")
