"""classify on a model that runs at another size than the one it was wrapped for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw


def test_classify_says_which_input_size_to_give_as_activations_does():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 32 * 32, 10))
    picture = np.zeros((40, 40, 3), np.uint8)
    net = aw.Network.wrap(model)  # no input_size: 224 × 224 is assumed
    sentence = r"cannot run on a 3×224×224 input .*Network.wrap\(model, input_size=\(H, W\)\)"
    with pytest.raises(aw.ExtractionError, match=sentence):
        aw.activations(net, picture, "1")
    with pytest.raises(aw.ExtractionError, match=sentence):
        aw.classify(net, picture)
    right = aw.Network.wrap(model, input_size=32)
    assert len(aw.classify(right, picture, top=3)) == 3
