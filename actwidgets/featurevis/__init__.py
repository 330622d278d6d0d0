"""Feature visualisation: the pictures a channel responds to most, and deep dreams.

- :func:`visualize_channels` — activation maximisation, one picture per channel, batched
  (``method="regularized"``: lucid-style; ``method="basic"``: the Keras VGG16 walkthrough).
- :func:`deep_dream` — amplify what a layer sees in a photo, over several octaves.

The parts, by role: :mod:`.param` (image parameterisations), :mod:`.transforms`
(transformation robustness), :mod:`.objectives` (what is maximised), :mod:`.optimize`
(activation maximisation) and :mod:`.dream` (deep dream); :mod:`._run` runs the steps of
either (progress, stop, Ctrl-C), :mod:`._checks` checks their arguments and
:mod:`._pictures` prepares their pictures.
"""

from __future__ import annotations

from ._checks import ChannelIndexError
from .dream import deep_dream
from .optimize import DEFAULTS, METHODS, visualize_channels

__all__ = ["visualize_channels", "deep_dream", "METHODS", "DEFAULTS", "ChannelIndexError"]
