"""FeatureVisualizer (an anywidget drawn by ``featurevis.js``), headless: runs in the
background (progress, previews, Stop), the channels checked against the layer, and the widget
working on during and after a run. The page is played by what it sends: ``page_sets`` (a
control changed: ipywidgets' update message) and ``press`` (Run, Stop: custom messages); what
it is sent is read from the synced traits (``_pictures``, ``_shape``, ``progress``, ...).

Every wait is on an event with a timeout (no sleep, no time threshold): where a test needs the
run at a given step, a Gate module holds the run's thread there, and a fake clock makes every
progress report and preview; the long runs use a tiny network and are stopped early.
"""

from __future__ import annotations

import asyncio
import itertools
import threading

import numpy as np
import pytest
import torch
import traitlets
from test_widgets import Flaky, page_sets, random_squeezenet, tiny  # noqa: F401 - fixtures
from torch import nn

import actwidgets as aw
from actwidgets.widgets import ActivationExplorer, FeatureVisualizer, _fvrun
from actwidgets.widgets.featurevis import MAX_STEPS, SIZES

PNG = b"\x89PNG\r\n\x1a\n"
TIMEOUT = 30.0


def when(fv: FeatureVisualizer, name: str, test) -> threading.Event:
    """An event set once ``test(new value)`` holds for trait ``name`` of ``fv``."""
    event = threading.Event()
    fv.observe(lambda change: test(change.new) and event.set(), name)
    return event


def wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(TIMEOUT), f"timed out after {TIMEOUT:.0f} s waiting for {what}"


def press(fv: FeatureVisualizer, button: str) -> None:
    """What the page sends when the person presses **Run** ("run") or **Stop** ("stop")."""
    fv._handle_custom_msg({"event": button}, [])


def sent_pictures(fv: FeatureVisualizer) -> np.ndarray:
    """The pictures as the page reads them: ``_pictures`` shaped by ``_shape``."""
    n, side = len(fv._shape["channels"]), fv._shape["size"]
    return np.frombuffer(fv._pictures, np.uint8).reshape(n, side, side, 3)


def buttons(fv: FeatureVisualizer) -> tuple[bool, bool]:
    """(Run pressable, Stop pressable), as the page decides them."""
    return (not fv.running and not fv._problem, fv.running and not fv._stopping)


def long_run(net, layer: str = "1", channels: str = "0-3") -> FeatureVisualizer:
    """A FeatureVisualizer set for a run much longer than a test: stopped early."""
    return FeatureVisualizer(net, layer, channels=channels, steps=MAX_STEPS, size=32)


# --------------------------------------------------------------------------- runs


def test_widget_runs_and_shows_pngs(random_squeezenet):
    fv = FeatureVisualizer(random_squeezenet, "fire2-relu_expand1x1")
    assert "FeatureVisualizer(" in repr(fv) and len(repr(fv)) < 200
    assert fv._meta["net"]["pretrained"] is False  # random weights: the page's banner says so
    for name in ("layer", "channels", "method", "steps", "size", "seed", "selected", "running", "progress"):
        assert fv.trait_metadata(name, "help")
    fv.channels = "0-3"
    fv.steps = 3
    fv.size = 32
    press(fv, "run")  # starts the run in the background and returns
    assert fv.wait(TIMEOUT) and not fv.running
    assert fv.error == ""
    assert fv.images.shape == (4, 32, 32, 3)
    assert fv.computed_channels == [0, 1, 2, 3]
    assert fv.progress == (3, 3) and fv._outcome == "success"
    np.testing.assert_array_equal(sent_pictures(fv), aw.pixels.to_uint8(fv.images))  # raw RGB
    assert fv._shape["channels"] == [0, 1, 2, 3] and fv._shape["done"] == 3
    grid = fv.pngs["grid"]
    assert grid.startswith(PNG) and fv.pngs["selected"].startswith(PNG)
    assert fv.selected == 0 and "3 steps in" in fv.status
    big0 = fv.pngs["selected"]
    page_sets(fv, selected=2)  # the person picks another channel to enlarge
    assert fv.selected == 2 and fv.pngs["selected"] != big0

    page_sets(fv, layer="fire3-relu_expand3x3")  # the person picks another layer
    assert fv.layer == "fire3-relu_expand3x3"
    assert fv.run() is True  # in this thread
    assert fv.pngs["grid"].startswith(PNG) and fv.pngs["grid"] != grid

    fv.method = "basic"
    assert fv.steps == 3  # a chosen step count stays
    assert fv.run() is True and fv.images.shape == (4, 32, 32, 3)


class Gate(nn.Module):
    """Identity; the ``pause_at``-th forward pass made in a background run's thread waits
    (``paused`` is set) until ``resume`` is set: the test decides where the run is."""

    def __init__(self, pause_at: int) -> None:
        super().__init__()
        self.pause_at, self.calls = pause_at, 0
        self.paused, self.resume = threading.Event(), threading.Event()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if threading.current_thread().name == "actwidgets-featurevis":
            self.calls += 1
            if self.calls == self.pause_at:
                self.paused.set()
                assert self.resume.wait(TIMEOUT), "the test never resumed the run"
        return x


@pytest.fixture()
def every_report(monkeypatch):
    """A fake clock for the run's report throttles: each reading is 1 s after the last, so
    every progress report and every preview is made (none hinges on the machine's speed)."""
    ticks = itertools.count()
    monkeypatch.setattr(_fvrun, "clock", lambda: float(next(ticks)))


@pytest.fixture()
def gated():
    """A tiny network behind a :class:`Gate` (layers "1".."5"); any run left going is stopped."""
    torch.manual_seed(0)
    gate = Gate(pause_at=10**9)
    model = nn.Sequential(gate, nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 4, 3, padding=1), nn.ReLU())
    net = aw.Network.wrap(model, input_size=32, name="gated", backend="hooks")
    widgets: list[FeatureVisualizer] = []
    yield net, gate, widgets
    gate.resume.set()
    for fv in widgets:
        fv.stop()
        fv.wait(TIMEOUT)


def test_a_background_run_shows_progress_and_previews_and_stops_keeping_its_pictures(
        gated, every_report):
    net, gate, widgets = gated
    gate.pause_at = 20  # the run's 20th forward pass waits for the test
    fv = FeatureVisualizer(net, "2", channels="0-3", steps=MAX_STEPS, size=32)
    widgets.append(fv)
    sent_when_shown = []  # what an observer of shown_step finds, in the run's thread
    fv.observe(lambda change: sent_when_shown.append(len(fv._pictures)), "shown_step")
    assert fv.start() is True  # it returned while the run cannot go past its 20th step
    assert fv.running and buttons(fv) == (False, True)
    wait_for(gate.paused, "the run's 20th step")
    # every report of the steps before has been made (in the run's thread, before this step)
    done = fv.progress[0]
    assert 5 <= done < 20 and fv.progress == (done, MAX_STEPS)
    assert 0 < fv.shown_step <= done  # a preview: shown while the run goes on
    assert fv.running and fv.images.shape == (4, 32, 32, 3)
    assert fv.pngs["grid"].startswith(PNG) and fv.pngs["selected"].startswith(PNG)
    assert sent_when_shown and all(n == 4 * 32 * 32 * 3 for n in sent_when_shown)  # never before
    assert fv._shape["done"] == fv.shown_step and not fv._shape["final"]

    press(fv, "stop")  # Stop: the run ends after the step it is in
    assert fv._stopping and buttons(fv) == (False, False) and "stopping after" in fv.status
    gate.resume.set()
    assert fv.wait(TIMEOUT)
    assert not fv.running and fv.progress == (done + 1, MAX_STEPS)
    assert fv.shown_step == done + 1 and f"stopped after {done + 1} of {MAX_STEPS} steps" in fv.status
    assert fv.images.shape == (4, 32, 32, 3) and np.isfinite(fv.images).all()
    assert fv.pngs["grid"].startswith(PNG)
    assert fv._outcome == "warning" and fv.error == ""
    assert buttons(fv) == (True, False) and not fv._stopping
    assert fv.stop() is False  # nothing left to stop
    assert all(p.requires_grad for p in net.model.parameters())  # the model as it was


def test_a_second_run_while_one_runs_is_refused(tiny):
    fv = long_run(tiny)
    previewed = when(fv, "shown_step", lambda step: step > 0)
    assert fv.start()
    wait_for(previewed, "the first pictures")
    assert fv.start() is False and fv.error.startswith("Run refused: a run is going")
    assert fv.run() is False
    assert fv.stop() and fv.wait(TIMEOUT)
    assert fv.error == ""  # the refusal goes with the run it was about
    assert fv.start() and fv.stop() and fv.wait(TIMEOUT)  # and after it, a new one starts


def test_changes_during_a_run_apply_to_the_next_run(tiny):
    fv = long_run(tiny)
    progressed = when(fv, "progress", lambda p: p[0] >= 3)
    assert fv.start()
    wait_for(progressed, "3 steps")
    page_sets(fv, layer="4")
    page_sets(fv, channels="1-2")
    page_sets(fv, size=48)
    page_sets(fv, method="basic")
    page_sets(fv, steps=3)
    assert fv.error == "" and (fv.layer, fv.channels, fv.size, fv.steps) == ("4", "1-2", 48, 3)
    assert fv.running and buttons(fv)[0] is False  # still the first run
    fv.stop()
    assert fv.wait(TIMEOUT)
    assert fv.computed_channels == [0, 1, 2, 3] and fv.images.shape == (4, 32, 32, 3)
    assert fv.status.startswith("1: 4 channels, regularized, 32×32 px, stopped")
    assert fv.run() and fv.computed_channels == [1, 2] and fv.images.shape == (2, 48, 48, 3)
    assert fv.status.startswith("4: 2 channels, basic, 48×48 px, 3 steps")


def test_a_failing_run_shows_the_error_and_keeps_the_last_pictures():
    torch.manual_seed(0)
    flaky = Flaky()
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), flaky,
                          nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
    net = aw.Network.wrap(model, input_size=24, name="flaky", backend="hooks")
    fv = FeatureVisualizer(net, "4", channels="0-1", steps=3, size=24)
    assert fv.run()
    grid, images = fv.pngs["grid"], fv.images
    flaky.broken = True
    fv.channels = "2-3"
    assert fv.start() and fv.wait(TIMEOUT)
    assert "failed on purpose" in fv.error and fv.error.startswith("run: ")
    assert isinstance(fv.last_exception, RuntimeError)
    assert fv.pngs["grid"] == grid and fv.computed_channels == [0, 1]
    np.testing.assert_array_equal(fv.images, images)
    assert fv._outcome == "danger" and not fv.running
    flaky.broken = False
    assert fv.run() and fv.computed_channels == [2, 3] and fv.error == ""


def test_wait_refuses_to_block_the_event_loop_that_delivers_the_end(tiny):
    fv = long_run(tiny)

    async def in_a_kernel() -> None:
        ended, progressed = asyncio.Event(), asyncio.Event()
        fv.observe(lambda change: change.new or ended.set(), "running")
        fv.observe(lambda change: change.new[0] > 0 and progressed.set(), "progress")
        assert fv.start()  # reports come back through this loop (call_soon_threadsafe)
        with pytest.raises(RuntimeError, match="observe"):
            fv.wait(1)
        await asyncio.wait_for(progressed.wait(), TIMEOUT)  # the loop is free: progress arrives
        assert fv.progress[0] > 0 and fv.stop()
        await asyncio.wait_for(ended.wait(), TIMEOUT)

    asyncio.run(in_a_kernel())
    assert not fv.running and "stopped after" in fv.status and fv.images is not None


def test_an_explorer_on_the_same_network_keeps_working_during_a_run(gated, every_report):
    """Scripted: the run is held inside a step (it holds the network, its weights frozen,
    the model in eval mode); the FeatureVisualizer's own controls answer meanwhile; an
    explorer's forward pass waits for the end of that step and goes in before the next one;
    afterwards every training flag and requires_grad is as the person left it."""
    net, gate, widgets = gated
    net.model.train()
    net.model[4].bias.requires_grad_(False)  # the person's own choice
    before = ([m.training for m in net.model.modules()],
              [p.requires_grad for p in net.model.parameters()])
    explorer = ActivationExplorer(net, layer="1")
    gate.pause_at = 5
    fv = FeatureVisualizer(net, "5", channels="0-3", steps=MAX_STEPS, size=32)
    widgets.append(fv)
    assert fv.start()
    wait_for(gate.paused, "the run's 5th step")
    assert not net.model.training and not any(p.requires_grad for p in net.model.parameters())
    for k in range(20):  # they need no forward pass: they answer while the run is held
        page_sets(fv, channels=f"0-{k % 3 + 1}")
    assert fv.running and fv.error == "" and fv.channels == "0-2"

    explored = threading.Event()

    def look() -> None:  # the explorer's thread: its forward pass waits for the network
        explorer.layer = "4"
        explorer.channel = 2
        explorer.view = "channel"
        explored.set()

    looker = threading.Thread(target=look)
    looker.start()
    gate.resume.set()  # the step ends; between two steps the explorer goes first
    wait_for(explored, "the explorer's forward pass")
    looker.join(TIMEOUT)
    assert fv.running and explorer.error == ""
    fv.stop()
    assert fv.wait(TIMEOUT) and fv.error == ""
    after = ([m.training for m in net.model.modules()],
             [p.requires_grad for p in net.model.parameters()])
    assert after == before
    assert explorer.png == ActivationExplorer(net, layer="4", channel=2, view="channel").png


# --------------------------------------------------------------------------- checks


def test_bad_input_shows_one_message_and_keeps_working(random_squeezenet):
    fv = FeatureVisualizer(random_squeezenet, "conv1", channels="0-1", steps=2, size=24)
    assert fv.run() is True
    grid = fv.pngs["grid"]
    page_sets(fv, channels="zero to three")  # typed by a person
    assert fv.error.startswith("FeatureVisualizer.channels: cannot read channels")
    assert fv._message == fv.error  # the page shows it
    assert fv.error.count("channels:") == 1  # one prefix, not "channels: FeatureVisualizer.channels: …"
    assert fv.channels == "0-1"  # snapped back
    page_sets(fv, channels="60-70")  # conv1 has 64 channels
    assert "0..63" in fv.error
    with pytest.raises(traitlets.TraitError, match="cannot read channels"):
        fv.channels = "1;2"  # from code: an ordinary TraitError

    page_sets(fv, channels="60-63")
    assert fv.error == ""
    fv.layer = "fire2-squeeze1x1"  # 16 channels: 60-63 no longer fit
    assert "0..15" in fv.error  # said at once
    assert fv.run() is False
    assert "out of range" in fv.error and "0..15" in fv.error
    assert fv.pngs["grid"] == grid  # the last good pictures stay
    fv.channels = "1,5,9"
    assert fv.run() is True and fv.error == ""
    assert fv.computed_channels == [1, 5, 9]
    with pytest.raises(traitlets.TraitError, match="not a computed channel"):
        fv.selected = 2
    with pytest.raises(traitlets.TraitError, match="no layer named"):
        fv.layer = "conv_1"


def test_a_layer_picked_in_the_dropdown_checks_the_channels_again(random_squeezenet):
    fv = FeatureVisualizer(random_squeezenet, "conv1", channels="60-63", steps=2, size=24)
    assert buttons(fv)[0] and fv.error == ""
    page_sets(fv, layer="fire2-squeeze1x1")  # 16 channels
    assert fv.layer == "fire2-squeeze1x1"
    assert "out of range" in fv.error and "0..15" in fv.error  # said, and kept
    assert not buttons(fv)[0] and "0..15" in fv._problem  # Run's tooltip says why
    page_sets(fv, method="basic")  # other changes keep saying it
    assert "0..15" in fv.error and not buttons(fv)[0]
    press(fv, "run")
    assert "0..15" in fv.error and not fv.running
    page_sets(fv, channels="1-3")
    assert fv.error == "" and buttons(fv)[0]
    assert fv.run() and fv.computed_channels == [1, 2, 3]
    page_sets(fv, layer="conv1")  # 64 channels: 1-3 still fit
    assert fv.error == "" and buttons(fv)[0]


def test_steps_and_size_are_bounded(tiny):
    fv = FeatureVisualizer(tiny)
    with pytest.raises(traitlets.TraitError, match=f"1..{MAX_STEPS}"):
        fv.steps = 100_000
    with pytest.raises(traitlets.TraitError, match=f"{SIZES[0]}..{SIZES[1]}"):
        fv.size = 1024
    assert (fv._meta["max_steps"], fv._meta["sizes"]) == (MAX_STEPS, list(SIZES))  # the boxes' bounds
    steps = fv.steps
    page_sets(fv, steps=100_000)  # typed past the box's bound: said, and the box snaps back
    assert f"1..{MAX_STEPS}" in fv.error and fv.steps == steps
    page_sets(fv, size=8)
    assert f"{SIZES[0]}..{SIZES[1]}" in fv.error and fv.size == 128
    page_sets(fv, steps=7)
    assert fv.error == "" and fv.steps == 7


def test_visualize_channels_shows_previews(tiny):
    seen = []
    def keep(pictures, done, total):
        seen.append((pictures, done, total))

    out = aw.visualize_channels(tiny, "1", [0, 2], steps=10, size=24, progress=False, seed=3,
                                method="basic", preview=(3, keep))
    assert [(done, total) for _, done, total in seen] == [(3, 10), (6, 10), (9, 10)]
    assert all(p.shape == (2, 24, 24, 3) and p.dtype == np.float32 for p, _, _ in seen)
    same = aw.visualize_channels(tiny, "1", [0, 2], steps=3, size=24, progress=False, seed=3, method="basic")
    np.testing.assert_array_equal(seen[0][0], same)  # the pictures reached at step 3
    assert out.shape == (2, 24, 24, 3)
    with pytest.raises(TypeError, match="preview"):
        aw.visualize_channels(tiny, "1", [0], steps=2, progress=False, preview=(0, print))


@pytest.mark.weights
def test_widget_default_layer_and_pretrained_banner(squeezenet):
    fv = FeatureVisualizer(squeezenet)
    assert fv.layer in squeezenet.layers.names
    assert fv._meta["net"]["pretrained"] is True  # no banner


def test_too_much_work_for_a_cpu_step_is_said_before_run(random_squeezenet):
    # Stop waits for the current step; on the CPU a step is kept to about a second.
    fv = FeatureVisualizer(random_squeezenet, "conv1", channels="0-15", steps=2, size=256)
    assert fv.error == "" and buttons(fv)[0]
    page_sets(fv, channels="0-63")
    assert "64 channels at 256 px" in fv.error and "fewer channels or a smaller size" in fv.error
    assert not buttons(fv)[0] and fv.start() is False and not fv.running
    page_sets(fv, size=128)  # 64 x 128² = 16 x 256²: allowed again
    assert fv.error == "" and buttons(fv)[0]


_LEAVE_DURING_RUNS = """
import threading
import numpy as np, torch
from torch import nn
import actwidgets as aw
from actwidgets.widgets import FeatureVisualizer
import actwidgets.widgets.channel as channel

torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(8, 4, 3, padding=1), nn.ReLU())
net = aw.Network.wrap(model, input_size=32, name="tiny")
fv = FeatureVisualizer(net, "4", channels="0-3", steps=2048, size=32)
going = threading.Event()
fv.observe(lambda change: change.new[0] >= 2 and going.set(), "progress")
assert fv.start()
assert going.wait(60)
photos = [np.full((32, 32, 3), v, np.uint8) for v in (10, 200)]
atlas = aw.channel_atlas(net, photos, "1", top=1, progress=False)
channel.FV_STEPS = 2048
view = aw.ChannelView(net, atlas, photos, layer="1", channel=0)
view.visualise()
print("leaving during two runs", flush=True)
"""


def test_leaving_python_during_background_runs_exits_cleanly(tmp_path):
    """Python exits while a FeatureVisualizer run and a ChannelView's drawing go on: both are
    stopped and their threads joined at exit (status 0, no abort inside torch)."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(aw.__file__))
    script = tmp_path / "leave.py"
    script.write_text(_LEAVE_DURING_RUNS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=root))
    assert "leaving during two runs" in done.stdout, done.stderr
    assert done.returncode == 0, done.stderr
    assert "terminate called" not in done.stderr


def test_the_page_is_its_own_module_and_static_pages_get_the_grid(tiny):
    from actwidgets import frontend

    fv = FeatureVisualizer(tiny, "1", channels="0-1", steps=2, size=16)
    assert fv._esm == frontend.module_text("draw.js", "controls.js", "featurevis.js")
    assert "export default" in fv._esm
    assert "image/png" not in fv._repr_mimebundle_()[0] and fv.png == b""  # nothing drawn yet
    assert fv.run()
    import base64

    assert base64.b64decode(fv._repr_mimebundle_()[0]["image/png"]) == fv.png == fv.pngs["grid"]


def test_stop_from_another_thread_ends_a_run_made_in_the_calling_thread(gated):
    """run() optimises in its own thread and holds the widget meanwhile; Stop from another
    thread (a script's) still ends it after the current step, and leaves no "stopping" behind."""
    net, gate, widgets = gated
    gate.pause_at = 4
    fv = FeatureVisualizer(net, "2", channels="0-1", steps=MAX_STEPS, size=16)
    widgets.append(fv)
    result = []
    runner = threading.Thread(target=lambda: result.append(fv.run()), name="actwidgets-featurevis")
    runner.start()  # the Gate pauses forward passes made in threads of this name
    wait_for(gate.paused, "the run's 4th step")
    stopper = threading.Thread(target=lambda: result.append(fv.stop()))
    stopper.start()
    assert fv._run.stop_event.wait(TIMEOUT)  # Stop is in, while run() holds the widget
    gate.resume.set()
    runner.join(TIMEOUT)
    stopper.join(TIMEOUT)
    assert not runner.is_alive() and not stopper.is_alive()
    assert sorted(result) == [True, True] and not fv.running and not fv._stopping
    done = fv.progress[0]
    assert 0 < done < 10 and f"stopped after {done} of {MAX_STEPS} steps" in fv.status
    assert "stopping" not in fv.status
