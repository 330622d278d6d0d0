"""Feature visualisation and deep dream: real SqueezeNet weights where they matter, tiny
hand-built models where the answer can be computed by hand. Offline and quick."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.featurevis import ChannelIndexError, deep_dream, visualize_channels


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def real_net(squeezenet):
    """SqueezeNet 1.1 with its real ImageNet weights (conftest skips where they are absent)."""
    return squeezenet


@pytest.fixture(scope="module")
def random_net():
    return aw.load_model("squeezenet", weights=None)


def mean_acts(net, pictures: np.ndarray, layer: str, channels: list[int]) -> np.ndarray:
    """Mean activation of channel channels[i] in picture i, at the pictures' own size."""
    x = net.preprocess.normalize(torch.from_numpy(pictures).permute(0, 3, 1, 2).float())
    point = net.layers.resolve(layer)
    with torch.no_grad():
        acts = net.extractor.run(x, [point])[point]
    return acts[torch.arange(len(channels)), torch.tensor(channels)].mean(dim=(1, 2)).numpy()


def model_state(model: nn.Module) -> dict:
    """Everything visualize_channels must leave alone."""
    return {
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "tensors": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def assert_untouched(model: nn.Module, before: dict) -> None:
    after = model_state(model)
    assert after["training"] == before["training"]
    assert after["requires_grad"] == before["requires_grad"]
    assert after["tensors"].keys() == before["tensors"].keys()
    for k, v in before["tensors"].items():
        assert torch.equal(after["tensors"][k], v), f"{k} changed"
    for p in model.parameters():
        assert p.grad is None
    for m in model.modules():
        for attr, value in vars(m).items():
            if attr.endswith("hooks") or attr.endswith("hooks_with_kwargs"):
                assert not value, f"{type(m).__name__}.{attr} left behind"
    assert not nn.modules.module._global_forward_hooks
    assert not nn.modules.module._global_forward_pre_hooks


# --------------------------------------------------------------------------- real weights
@pytest.mark.weights
@pytest.mark.parametrize(
    "layer, channels",
    [
        # An early layer (56×56 at 227 px) and a deep one (14×14). fire8's channel 1 is left
        # out on purpose: it already responds strongly to the flat grey start (about 40), and
        # every channel tops out at a few hundred, so 10× is not what it can show. Its
        # channel 3 is dead on the start picture (zero everywhere): the plain ReLU gradient
        # is zero there, and the redirected one must still get the ascent going.
        ("fire3-relu_expand3x3", [0, 1, 2, 3]),
        ("fire8-relu_expand3x3", [0, 2, 3, 4]),
    ],
)
def test_regularized_raises_the_channel_tenfold(real_net, layer, channels):
    size, steps = 96, 64
    out = visualize_channels(real_net, layer, channels, size=size, steps=steps, progress=False)
    assert out.shape == (len(channels), size, size, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    # The starting picture of the same run: one step with a vanishing learning rate.
    start = visualize_channels(real_net, layer, channels, size=size, steps=1, lr=1e-12, progress=False)
    before = mean_acts(real_net, start, layer, channels)
    after = mean_acts(real_net, out, layer, channels)
    assert np.all(after >= 10.0 * np.maximum(before, 1.0 if layer.startswith("fire8") else 1e-3)), (
        before, after)
    if layer.startswith("fire8"):
        assert before[2] == 0.0  # the dead channel


@pytest.mark.weights
def test_basic_raises_the_channel(real_net):
    # The walkthrough's recipe on real weights: its noise start, 20 plain steps.
    chans = [0, 1, 2, 3]
    out = visualize_channels(real_net, "fire3-relu_expand3x3", chans, method="basic",
                             progress=False)
    assert out.shape == (4, 128, 128, 3)
    start = visualize_channels(real_net, "fire3-relu_expand3x3", chans, method="basic",
                               steps=1, lr=1e-9, progress=False)
    before = mean_acts(real_net, start, "fire3-relu_expand3x3", chans)
    after = mean_acts(real_net, out, "fire3-relu_expand3x3", chans)
    assert np.all(after > 2.0 * before), (before, after)


@pytest.mark.weights
def test_deep_dream_amplifies_the_layer(real_net):
    photo = aw.sample_image("cat")[::2, ::2]  # 150 × 226: quick
    dream = deep_dream(real_net, photo, "fire4-concat", octaves=3, steps=4, progress=False)
    assert dream.shape == (150, 226, 3) and dream.dtype == np.float32
    assert dream.min() >= 0.0 and dream.max() <= 1.0
    original = photo.astype(np.float32) / 255.0
    assert np.abs(dream - original).mean() > 0.01

    def strength(picture: np.ndarray) -> float:
        x = real_net.preprocess.normalize(torch.from_numpy(picture).permute(2, 0, 1)[None])
        point = real_net.layers.resolve("fire4-concat")
        with torch.no_grad():
            return float(real_net.extractor.run(x, [point])[point].square().mean())

    assert strength(dream) > 1.5 * strength(original)

    # Given channels: their mean activation goes up.
    dream2 = deep_dream(real_net, photo, "fire4-relu_expand3x3", channels=[5, 9], octaves=2,
                        steps=3, progress=False)
    x0 = mean_acts(real_net, np.stack([original] * 2), "fire4-relu_expand3x3", [5, 9])
    x1 = mean_acts(real_net, np.stack([dream2] * 2), "fire4-relu_expand3x3", [5, 9])
    assert x1.sum() > 1.5 * x0.sum()


# --------------------------------------------------------------------------- seeds, batching
@pytest.mark.parametrize("method", ["regularized", "basic"])
def test_same_seed_same_pictures(random_net, method):
    kw = dict(method=method, size=48, steps=4, progress=False)
    a = visualize_channels(random_net, "fire2-relu_expand1x1", [0, 3], seed=7, **kw)
    b = visualize_channels(random_net, "fire2-relu_expand1x1", [0, 3], seed=7, **kw)
    c = visualize_channels(random_net, "fire2-relu_expand1x1", [0, 3], seed=8, **kw)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_seed_leaves_the_global_rng_alone(random_net):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    visualize_channels(random_net, "conv1", [0], size=32, steps=2, progress=False)
    deep_dream(random_net, np.zeros((40, 40, 3), np.uint8), "conv1", octaves=1, steps=1, progress=False)
    assert torch.equal(torch.rand(3), expected)


def test_a_channel_does_not_depend_on_its_batch(random_net):
    # One batch for all channels, but picture i depends on (seed, channel i) only.
    kw = dict(size=40, steps=5, progress=False)
    both = visualize_channels(random_net, "fire3-relu_expand3x3", [3, 5], **kw)
    alone = visualize_channels(random_net, "fire3-relu_expand3x3", [5], **kw)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-4)
    both = visualize_channels(random_net, "fire3-relu_expand3x3", [3, 5], method="basic", **kw)
    alone = visualize_channels(random_net, "fire3-relu_expand3x3", [5], method="basic", **kw)
    np.testing.assert_allclose(both[1], alone[0], atol=1e-4)


# --------------------------------------------------------------------------- the walkthrough
MEAN = np.array([0.5, 0.4, 0.3])
STD = np.array([0.2, 0.25, 0.3])
WEIGHTS = np.array([[0.5, -1.0, 0.8], [-0.3, 0.2, 0.6]])
BIAS = np.array([0.1, -0.2])


def tiny_net() -> aw.Network:
    """A 1×1 conv (3 → 2 channels, fixed weights) and a ReLU, with mean/std normalisation."""
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(WEIGHTS, dtype=torch.float32).view(2, 3, 1, 1))
        model[0].bias.copy_(torch.tensor(BIAS, dtype=torch.float32))
    pre = aw.Preprocess(size=12, mean=tuple(MEAN), std=tuple(STD))
    return aw.Network.wrap(model, pre, input_size=12)


def walkthrough_by_hand(start: np.ndarray, channel: int, steps: int, step_size: float) -> np.ndarray:
    """The walkthrough's loop in numpy, with d(mean act)/d(pixels) written out by hand.

    act = relu(w · x + b), x = (p / 255 - mean) / std, so
    d mean(act) / dp = w[c] / std / 255 / (H·W) where w · x + b > 0, else 0.
    """
    p = start.astype(np.float64).copy()  # (H, W, 3) in 0..255, like the walkthrough's image
    h, w = p.shape[:2]
    for _ in range(steps):
        x = (p / 255.0 - MEAN) / STD
        z = x @ WEIGHTS[channel] + BIAS[channel]
        grads = (z > 0)[:, :, None] * (WEIGHTS[channel] / STD / 255.0 / (h * w))
        grads /= np.sqrt(np.mean(np.square(grads))) + 1e-5
        p += grads * step_size
    # as_image, without the final rounding to uint8
    p -= p.mean()
    p /= p.std() + 1e-5
    p *= 0.1
    p += 0.5
    return np.clip(p, 0.0, 1.0)


@pytest.mark.parametrize("steps, step_size", [(1, 1.0), (5, 1.0), (7, 2.5)])
def test_basic_is_the_walkthrough_step_for_step(steps, step_size):
    net = tiny_net()
    rng = np.random.default_rng(3)
    # Grey with the walkthrough's spread: some pixels open the ReLU, some do not.
    start = np.clip(rng.normal(127, 40, size=(12, 12, 3)), 0, 255).astype(np.uint8)
    out = visualize_channels(net, "1", [0, 1], method="basic", steps=steps, lr=step_size,
                             start=start, progress=False)
    assert out.shape == (2, 12, 12, 3)
    for c in (0, 1):
        expected = walkthrough_by_hand(start, c, steps, step_size)
        np.testing.assert_allclose(out[c], expected, atol=2e-5)


def test_basic_starts_from_the_walkthrough_noise():
    net = tiny_net()
    g = torch.Generator().manual_seed(0)
    noise = torch.randn((1, 3, 12, 12), generator=g) * 10 + 127  # N(127, 10²), 0..255 units
    from actwidgets.featurevis.param import walkthrough_noise

    assert torch.equal(walkthrough_noise(3, (12, 12), torch.Generator().manual_seed(0)), noise)
    out = visualize_channels(net, "1", [1], method="basic", steps=3, size=12, seed=0, progress=False)
    # By hand from the same noise (as float pixels, not rounded to uint8).
    p = noise[0].permute(1, 2, 0).double().numpy()
    expected = walkthrough_by_hand(p, 1, 3, 1.0)
    np.testing.assert_allclose(out[0], expected, atol=2e-5)


def test_basic_default_size_is_the_walkthroughs(random_net):
    out = visualize_channels(random_net, "conv1", [0], method="basic", steps=1, progress=False)
    assert out.shape == (1, 128, 128, 3)


# --------------------------------------------------------------------------- the model
class Bomb(nn.Module):
    """Passes its input through; once armed, raises ``exc`` on its ``at``-th call."""

    def __init__(self) -> None:
        super().__init__()
        self.at: int | None = None
        self.exc: BaseException = RuntimeError("boom")
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.at is not None:
            self.calls += 1
            if self.calls == self.at:
                raise self.exc
        return x


def trainable_net() -> tuple[aw.Network, Bomb]:
    """A user's model as it comes: train mode, requires_grad on, batch norm, dropout."""
    torch.manual_seed(0)
    bomb = Bomb()
    model = nn.Sequential(
        nn.Conv2d(3, 6, 3), nn.BatchNorm2d(6), nn.ReLU(), bomb, nn.Dropout(0.5),
        nn.Conv2d(6, 8, 3), nn.ReLU(),
    )
    model.train()
    model[1].eval()  # a mixed state must come back mixed
    net = aw.Network.wrap(model, input_size=24, backend="hooks")
    net.layers  # build the catalogue before arming the bomb
    return net, bomb


@pytest.mark.parametrize("method", ["regularized", "basic"])
def test_the_model_is_left_as_it_was(method):
    net, _ = trainable_net()
    before = model_state(net.model)
    assert any(p.requires_grad for p in net.model.parameters())
    out = visualize_channels(net, "6", [0, 7], method=method, steps=3, size=24, progress=False)
    assert out.shape == (2, 24, 24, 3)
    assert_untouched(net.model, before)
    deep_dream(net, np.full((30, 30, 3), 128, np.uint8), "6", octaves=2, steps=2, progress=False)
    assert_untouched(net.model, before)


@pytest.mark.parametrize("method", ["regularized", "basic"])
def test_the_model_is_left_as_it_was_when_the_run_raises(method):
    net, bomb = trainable_net()
    before = model_state(net.model)
    bomb.at = 3
    with pytest.raises(RuntimeError, match="boom"):
        visualize_channels(net, "6", [0, 1], method=method, steps=10, size=24, progress=False)
    assert_untouched(net.model, before)
    bomb.at, bomb.calls = 3, 0
    with pytest.raises(RuntimeError, match="boom"):
        deep_dream(net, np.full((30, 30, 3), 128, np.uint8), "6", octaves=1, steps=10, progress=False)
    assert_untouched(net.model, before)


def test_ctrl_c_returns_the_pictures_so_far():
    net, bomb = trainable_net()
    before = model_state(net.model)
    kw = dict(method="basic", size=24, progress=False)
    expected = visualize_channels(net, "6", [0, 1], steps=2, **kw)  # two steps done
    bomb.exc, bomb.at = KeyboardInterrupt(), 3  # the third step's forward pass is interrupted
    with pytest.warns(RuntimeWarning, match="interrupted after 2 of 10 steps"):
        partial = visualize_channels(net, "6", [0, 1], steps=10, **kw)
    np.testing.assert_array_equal(partial, expected)
    assert_untouched(net.model, before)

    bomb.calls = 0  # regularized and deep dream too, with the progress bar on
    with pytest.warns(RuntimeWarning, match="interrupted"):
        out = visualize_channels(net, "6", [0], steps=10, size=24)
    assert out.shape == (1, 24, 24, 3) and np.isfinite(out).all()
    bomb.calls = 0
    with pytest.warns(RuntimeWarning, match="interrupted after 2 of"):
        dream = deep_dream(net, np.full((40, 36, 3), 90, np.uint8), "6", octaves=2, steps=4)
    assert dream.shape == (40, 36, 3)
    assert_untouched(net.model, before)


def test_progress_callback_and_bar(random_net):
    seen = []
    visualize_channels(random_net, "conv1", [0], size=24, steps=3, progress=True,
                       callback=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_a_linear_layer_counts_features_as_channels():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 5))
    net = aw.Network.wrap(model, input_size=16)
    out = visualize_channels(net, "3", [0, 4], size=16, steps=3, progress=False)
    assert out.shape == (2, 16, 16, 3)
    with pytest.raises(ChannelIndexError, match=r"0\.\.4"):
        visualize_channels(net, "3", [5], size=16, steps=1, progress=False)
    with pytest.raises(ValueError, match="input size 16×16"):  # a linear layer needs exactly that
        visualize_channels(net, "3", [0], size=20, steps=1, progress=False)


def test_a_grey_network_gets_grey_pictures():
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU())
    net = aw.Network.wrap(model, input_size=20)
    assert net.preprocess.channels == 1
    for method in ("regularized", "basic"):
        out = visualize_channels(net, "1", [0, 2], method=method, size=20, steps=2, progress=False)
        assert out.shape == (2, 20, 20, 3)
        assert np.array_equal(out[..., 0], out[..., 2])
    dream = deep_dream(net, np.zeros((33, 33, 3), np.uint8), "1", octaves=1, steps=1, progress=False)
    assert dream.shape == (33, 33, 3)


def test_start_picture(random_net):
    face = aw.sample_image("face")  # 224 × 224
    out = visualize_channels(random_net, "conv1", [0, 1], start=face, steps=1, lr=1e-12, progress=False)
    assert out.shape == (2, 224, 224, 3)
    # The regularized parameterisation encodes the start picture (up to clipping at 1%).
    np.testing.assert_allclose(out[0], np.clip(face / 255.0, 0.01, 0.99), atol=2e-3)
    out = visualize_channels(random_net, "conv1", [0], start=face, size=(40, 60), steps=1, progress=False)
    assert out.shape == (1, 40, 60, 3)
    big = np.zeros((1000, 600, 3), np.uint8)
    out = visualize_channels(random_net, "conv1", [0], start=big, method="basic", steps=1, progress=False)
    assert out.shape == (1, 512, 307, 3)


# --------------------------------------------------------------------------- errors
def test_errors(random_net):
    net = random_net
    def v(*a, **k):
        return visualize_channels(*a, **{"progress": False, "size": 32, "steps": 1, **k})

    with pytest.raises(ChannelIndexError, match=r"valid indices are 0\.\.63"):
        v(net, "conv1", [0, 64])
    with pytest.raises(IndexError):
        v(net, "conv1", -1)
    with pytest.raises(ValueError, match="empty"):
        v(net, "conv1", [])
    with pytest.raises(TypeError, match="ints"):
        v(net, "conv1", ["a"])
    with pytest.raises(TypeError):
        v(net, "conv1", True)
    with pytest.raises(ValueError, match="'regularized', 'basic'"):
        v(net, "conv1", [0], method="lucid")
    for bad in (0, -3):
        with pytest.raises(ValueError, match="steps must be a positive int"):
            v(net, "conv1", [0], steps=bad)
    with pytest.raises(TypeError, match="steps"):
        v(net, "conv1", [0], steps=2.5)
    with pytest.raises(ValueError, match="lr"):
        v(net, "conv1", [0], lr=0)
    with pytest.raises(ValueError, match="size"):
        v(net, "conv1", [0], size=4)
    with pytest.raises(ValueError, match="larger size"):
        v(net, "fire9-concat", [0], size=8)
    with pytest.raises(aw.LayerNameError, match="conv1"):
        v(net, "conv_1", [0])
    with pytest.raises(ValueError, match="stage"):
        v(net, "conv1", [0], stage="middle")
    with pytest.raises(TypeError, match="Network"):
        v(net.model, "conv1", [0])
    with pytest.raises(ValueError, match=r"net\.to"):
        v(net, "conv1", [0], device="cuda:0" if net.device.type == "cpu" else "cpu")
    with pytest.raises(TypeError, match="seed"):
        v(net, "conv1", [0], seed="one")
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    small = aw.Network.wrap(model, input_size=16)
    if "input" in small.layers:
        with pytest.raises(ValueError, match="input"):
            visualize_channels(small, "input", [0], size=16, steps=1, progress=False)

    def d(*a, **k):
        return deep_dream(*a, **{"progress": False, "steps": 1, **k})

    img = np.zeros((40, 40, 3), np.uint8)
    with pytest.raises(ValueError, match="greater than 1"):
        d(net, img, "conv1", octave_scale=1.0)
    with pytest.raises(ValueError, match="octaves"):
        d(net, img, "conv1", octaves=0)
    with pytest.raises(ValueError, match="steps"):
        d(net, img, "conv1", steps=0)
    with pytest.raises(ValueError, match="step_size"):
        d(net, img, "conv1", step_size=-0.1)
    with pytest.raises(ChannelIndexError, match=r"0\.\.63"):
        d(net, img, "conv1", channels=[64])
    with pytest.raises(ValueError, match="needs an image"):
        d(net, None, "conv1")
    with pytest.raises(aw.LayerNameError):
        d(net, img, "nope")


def test_deep_dream_sizes(random_net):
    big = np.full((700, 350, 3), 100, np.uint8)
    out = deep_dream(random_net, big, "conv1", octaves=1, steps=1, progress=False)
    assert out.shape == (512, 256, 3)
    from actwidgets.featurevis.dream import octave_sizes

    assert octave_sizes((300, 451), 4, 1.4) == [(109, 164), (153, 230), (214, 322), (300, 451)]
    assert octave_sizes((40, 40), 4, 2.0) == [(40, 40)]  # smaller octaves would be < 32 px
    # max_loss stops an octave early
    seen = []
    deep_dream(random_net, big[:64, :64], "conv1", octaves=2, steps=5, max_loss=-1.0,
               progress=False, callback=lambda d, t: seen.append(d))
    assert seen == [5, 10]  # one step per octave, the skipped ones counted as done with it


def test_package_exports():
    assert aw.visualize_channels is visualize_channels
    assert aw.deep_dream is deep_dream


# --------------------------------------------------------------------------- CUDA
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda():
    net = aw.load_model("squeezenet", weights=None, device="cuda")
    before = model_state(net.model)
    for method in ("regularized", "basic"):
        out = visualize_channels(net, "fire4-relu_expand3x3", [0, 1, 2], method=method, size=64,
                                 steps=4, progress=False)
        assert out.shape == (3, 64, 64, 3) and np.isfinite(out).all()
    dream = deep_dream(net, aw.sample_image("cat"), "fire4-concat", octaves=2, steps=2, progress=False)
    assert dream.shape == (300, 451, 3)
    assert_untouched(net.model, before)


# --------------------------------------------------------------------------- the widget
PNG = b"\x89PNG\r\n\x1a\n"


def test_a_stop_event_ends_the_run_and_keeps_the_pictures(random_net):
    import threading

    stop = threading.Event()
    seen = []

    def callback(done: int, total: int) -> None:
        seen.append(done)
        if done == 2:
            stop.set()  # as a widget's Stop button does, from another thread

    kw = dict(method="basic", size=24, progress=False, seed=1)
    out = visualize_channels(random_net, "conv1", [0, 3], steps=50, callback=callback, stop=stop, **kw)
    assert seen == [1, 2]
    np.testing.assert_array_equal(out, visualize_channels(random_net, "conv1", [0, 3], steps=2, **kw))
    stop.clear()
    dream_seen = []
    deep_dream(random_net, np.full((40, 40, 3), 90, np.uint8), "conv1", octaves=1, steps=9,
               progress=False, stop=stop, callback=lambda d, t: dream_seen.append(d) or stop.set())
    assert dream_seen == [1]


# --------------------------------------------------------------------------- interleavings


def _interleavings(names: str) -> list[list[tuple[str, str]]]:
    """Every order of entering and leaving for the named uses (each enters before it leaves)."""
    out: list[list[tuple[str, str]]] = []

    def grow(seq: list[tuple[str, str]], entered: set[str], left: set[str]) -> None:
        if len(left) == len(names):
            out.append(seq)
            return
        for n in names:
            if n not in entered:
                grow(seq + [(n, "enter")], entered | {n}, left)
            elif n not in left:
                grow(seq + [(n, "leave")], entered, left | {n})

    grow([], set(), set())
    return out


class _Scripted(threading.Thread):
    """A thread inside ``preserve_model_state(model, **kw)`` that enters and leaves when told."""

    def __init__(self, model: nn.Module, kw: dict) -> None:
        super().__init__(daemon=True)
        self.model, self.kw = model, kw
        self.go, self.did = threading.Event(), threading.Event()
        self.inside: tuple[bool, list[bool]] | None = None

    def step(self) -> None:
        self.did.clear()
        self.go.set()
        assert self.did.wait(30), "a scripted thread did not answer"

    def run(self) -> None:
        self.go.wait()
        self.go.clear()
        with aw.preserve_model_state(self.model, **self.kw):
            self.inside = (self.model.training, [p.requires_grad for p in self.model.parameters()])
            self.did.set()
            self.go.wait()
        self.did.set()


def test_no_interleaving_of_overlapping_uses_changes_the_model():
    """A background run (frozen), a widget's forward pass and a direct run, each in its own
    thread, enter and leave in every possible order: the model ends as it was, and is in eval
    mode while any of them is inside."""
    model = nn.Sequential(nn.Conv2d(3, 2, 3), nn.BatchNorm2d(2), nn.Conv2d(2, 2, 1)).train()
    model[2].bias.requires_grad_(False)  # the person's own choice, kept
    before = ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()])
    kinds = {"A": {"freeze": True}, "B": {}, "C": {"freeze": True}}
    orders = _interleavings("ABC")
    assert len(orders) == 90
    for order in orders:
        threads = {n: _Scripted(model, kw) for n, kw in kinds.items()}
        for t in threads.values():
            t.start()
        for name, what in order:
            threads[name].step()
            if what == "enter":
                training, grads = threads[name].inside
                assert not training
                if kinds[name]:
                    assert not any(grads)
        for t in threads.values():
            t.join(30)
        after = ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()])
        assert after == before, f"order {order} left the model changed"
