"""The state machine every widget runs on (``actwidgets.widgets._state``), seen through the
ActivationExplorer: one render per batch, the newest request wins, rollback on error.

Helpers and fixtures: ``test_widgets.py``.
"""

from __future__ import annotations

import asyncio

import torch
from test_widgets import Flaky, explorer, random_squeezenet, tiny  # noqa: F401 - fixtures
from torch import nn

import actwidgets as aw
from actwidgets.widgets import ActivationExplorer

# --------------------------------------------------------------------------- one render per batch


def test_a_batch_of_changes_renders_once(explorer):
    drawn = explorer.render_guard.drawn
    with explorer.batch():
        explorer.layer = "fire6-relu_squeeze1x1"
        explorer.channel = 13
        explorer.view = "channel"
        explorer.cmap = "viridis"
    assert explorer.render_guard.drawn == drawn + 1
    expected = ActivationExplorer(explorer.net, layer="fire6-relu_squeeze1x1", channel=13,
                                  view="channel", cmap="viridis")
    assert explorer.png == expected.png
    with explorer.hold_sync():  # ipywidgets' own batching gives one render too
        explorer.channel = 3
        explorer.view = "grid"
    assert explorer.render_guard.drawn == drawn + 2


def test_a_change_from_code_drops_a_pending_render_from_a_control(tiny):
    e = ActivationExplorer(tiny, layer="0", view="channel")
    drawn = e.render_guard.drawn

    async def scenario() -> None:
        # In a kernel, a change from the page waits for the event loop ...
        e.set_state({"channel": 1})
        assert e.channel == 1 and e.render_guard.drawn == drawn
        e.channel = 2  # ... a change from code draws at once, a newer generation ...
        assert e.render_guard.drawn == drawn + 1
        await asyncio.sleep(0)  # ... and the older request, run now, is dropped

    asyncio.run(scenario())
    assert e.render_guard.drawn == drawn + 1 and e.render_guard.dropped >= 1
    assert e.png == ActivationExplorer(tiny, layer="0", view="channel", channel=2).png


def test_fast_changes_from_the_page_draw_only_the_newest(tiny):
    e = ActivationExplorer(tiny, layer="0", view="channel")
    drawn = e.render_guard.drawn
    e.set_state({"channel": 1})  # a browser message; without an event loop: drawn at once
    assert e.channel == 1 and e.render_guard.drawn == drawn + 1

    async def drag() -> None:
        for k in range(2, 8):  # messages handled before the loop turns
            e.set_state({"channel": k})
        assert e.channel == 7 and e.render_guard.drawn == drawn + 1
        await asyncio.sleep(0)  # the loop runs the queued render requests

    dropped = e.render_guard.dropped
    asyncio.run(drag())
    assert e.render_guard.drawn == drawn + 2  # one render, the newest
    assert e.render_guard.dropped - dropped == 5
    assert e.png == ActivationExplorer(tiny, layer="0", view="channel", channel=7).png


# --------------------------------------------------------------------------- rollback


def test_a_failing_layer_shows_an_error_and_keeps_state():
    torch.manual_seed(0)
    flaky = Flaky()
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), flaky, nn.Conv2d(4, 2, 3), nn.ReLU())
    net = aw.Network.wrap(model, input_size=24, name="flaky", backend="hooks")  # runs Flaky for real
    e = ActivationExplorer(net)
    e.channel = 2
    state, picture = repr(e), e.png
    flaky.broken = True
    sent = e._layer
    e.set_state({"layer": "3"})  # the page asks for a layer whose forward pass raises
    assert "failed on purpose" in e.error
    assert isinstance(e.last_exception, RuntimeError)  # its traceback is kept for a closer look
    assert repr(e) == state and e.png == picture
    assert e.layer == "0" and e.channel == 2 and e._layer is sent  # the page snaps back
    flaky.broken = False
    e.layer = "3"
    assert e.error == "" and e.activations.shape == (2, 20, 20)
