"""What researchers do around a model, checked against the independent reference for both
backends: hooks and attributes changed after the first call, a hook on an in-place
activation, autocast inside ``forward``, a value cached on first use, buffers a forward pass
writes, layers that mix the batch, a ``torch.compile``d model, and one check per public call.

Every value is compared with ``_reference.HookCapture`` (a deep copy of the model as it is at
that moment, run eagerly with hooks cloning every value), through ``aw.activations``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import actwidgets as aw
from actwidgets.extract import ExtractionError, Extractor

import _corpus_checks as checks  # tests/ is on sys.path
import _reference as ref

BACKENDS = ("fx", "hooks")


def _images(n: int, size: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def _problems(net: aw.Network, images: list[np.ndarray]) -> list[str]:
    """Every layer's two stages against the reference, as the model is now, through both
    paths of ``aw.activations``: all layers at once (computed afresh), and one layer at a
    time (through the cache). Layers the hooks reference cannot see (functional ops) are
    left out."""
    x = net.preprocess.batch(images)
    cap = ref.HookCapture(net.model).run(x)
    every = aw.activations(net, images, net.layers.names, stage="both")
    ext, out, compared = net.extractor, [], 0
    for layer in net.layers:
        one = aw.activations(net, images, layer.name, stage="both")
        for stage, name in (("pre", layer.pre), ("post", layer.post)):
            key = ref.point_key(ext, name)
            if key not in cap.values:
                continue
            p = ext.point(name)
            want = ref.to_map(cap.values[key], p.layout.kind, p.layout.extra, p.map_shape)
            want = want.float().numpy()
            for how, got in (("all layers", every[layer.name][stage]), ("one layer", one[stage])):
                if got.shape != want.shape or not np.array_equal(got, want):
                    diff = np.abs(got - want).max() if got.shape == want.shape else "shape"
                    out.append(f"{how}: {layer.name}/{stage} ({name}): max |diff| {diff}")
            compared += 1
    assert compared >= len(net.layers), "the reference saw too few layers to compare"
    return out


def _resnet(backend: str) -> tuple[nn.Module, aw.Network]:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    return model, aw.Network.wrap(model, input_size=64, backend=backend)


# ---------------------------------------------------------------------- 1: interventions
def test_container_hook_added_after_first_call_auto() -> None:
    """A forward hook ablating ``layer1`` after the first call (fx inlines containers, so it
    falls back to hooks, saying why); removing it goes back to fx."""
    model, net = _resnet("auto")
    img = _images(1, 64)
    assert net.extractor.backend == "fx"
    before = aw.activations(net, img, net.layers.names, stage="both")["layer2.0.conv1"]["pre"]
    handle = model.layer1.register_forward_hook(lambda _m, _i, o: o * 0)
    try:
        assert _problems(net, img) == []
        assert "layer1" in (net.extractor.rebuilt_because or "")
        assert net.extractor.backend == "hooks" and "layer1" in net.extractor.trace_error
        got = aw.activations(net, img[0], "layer2.0.conv1", stage="post")  # its one stage
        assert np.abs(got - before[0]).max() > 1  # the 4.47
    finally:
        handle.remove()
    assert _problems(net, img) == []
    assert net.extractor.backend == "fx" and "layer1" in net.extractor.rebuilt_because


def test_container_hook_with_fx_forced_is_refused() -> None:
    model, net = _resnet("fx")
    aw.activations(net, _images(1, 64)[0], "layer1")
    handle = model.layer1.register_forward_hook(lambda _m, _i, o: o * 0)
    try:
        with pytest.raises(ExtractionError, match="'layer1' has a forward hook.*hooks"):
            aw.activations(net, _images(1, 64)[0], "layer2")
    finally:
        handle.remove()


@pytest.mark.parametrize("backend", ["auto", "hooks"])
def test_container_hook_removed_later(backend: str) -> None:
    model, net = _resnet(backend)
    handle = model.layer1.register_forward_hook(lambda _m, _i, o: o * 0)
    img = _images(1, 64)
    assert _problems(net, img) == []
    handle.remove()
    assert _problems(net, img) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_leaf_hook_added_after_first_call(backend: str) -> None:
    """A hook on a conv after the first call, the cache not cleared: seen at once."""
    model, net = _resnet(backend)
    img = _images(1, 64)
    before = aw.activations(net, img[0], "layer2.0.conv1")
    model.layer1[0].conv1.register_forward_hook(lambda _m, _i, o: o * 0.5)
    assert _problems(net, img) == []
    assert not np.array_equal(before, aw.activations(net, img[0], "layer2.0.conv1"))
    assert "'layer1.0.conv1'" in net.extractor.rebuilt_because


@pytest.mark.parametrize("backend", BACKENDS)
def test_pre_hook_on_activation_added_later(backend: str) -> None:
    """A pre-hook changing a ReLU's input (fx cannot see it: "auto" goes to hooks)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU())
    net = aw.Network.wrap(model, input_size=16, backend="auto" if backend == "fx" else backend)
    img = _images(1, 16)
    aw.activations(net, img, net.layers.names, stage="both")
    model[1].register_forward_pre_hook(lambda _m, args: (args[0] - 0.5,))
    assert _problems(net, img) == []
    assert net.extractor.backend == "hooks"


class Gained(nn.Module):
    """Python state that ``forward`` reads: a gain, and a parameter used directly."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu, self.conv2 = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)
        self.gain = 1.0
        self.shift = nn.Parameter(torch.zeros(1, 4, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.conv(x) * self.gain + self.shift))


@pytest.mark.parametrize("backend", BACKENDS)
def test_attribute_read_by_forward_changed(backend: str) -> None:
    torch.manual_seed(0)
    model = Gained().eval()
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    img = _images(1, 16)
    assert _problems(net, img) == []
    model.gain = -3.0
    assert _problems(net, img) == []
    if backend == "hooks":  # the real forward runs each time: nothing to rebuild, but the
        assert net.extractor.rebuilt_because is None  # values cached before are stale
        assert net.extractor.refreshed == 1
    else:  # the graph baked the old gain in: traced again
        assert "'gain'" in net.extractor.rebuilt_because
    model.shift = nn.Parameter(torch.full((1, 4, 1, 1), 0.25))  # a replaced parameter
    assert _problems(net, img) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_submodule_replaced(backend: str) -> None:
    torch.manual_seed(0)
    model = Gained().eval()
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    img = _images(1, 16)
    aw.activations(net, img, net.layers.names)
    model.conv2 = nn.Conv2d(4, 2, 1)
    assert _problems(net, img) == []
    assert net.layers.get("conv2").channels == 2


# ---------------------------------------------------------------------- 2: a hooked in-place ReLU
@pytest.mark.parametrize("backend", BACKENDS)
def test_hook_on_inplace_activation_runs(backend: str) -> None:
    """conv → ReLU(inplace=True) whose forward hook doubles its output; both stages asked."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Conv2d(4, 4, 3))
    calls = []
    model[1].register_forward_hook(lambda _m, _i, o: calls.append(1) or o * 2)
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    img = _images(1, 16)
    assert _problems(net, img) == []
    calls.clear()
    aw.activations(net, _images(1, 16, seed=1)[0], ["0", "2"], stage="both")
    assert calls == [1]


# ---------------------------------------------------------------------- 3: autocast in forward
class Autocast(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.relu1 = nn.Conv2d(3, 4, 3), nn.ReLU()
        self.conv2, self.relu2 = nn.Conv2d(4, 4, 3), nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu1(self.conv1(x))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x = self.relu2(self.conv2(x))
        return x.float()


@pytest.mark.parametrize("backend", BACKENDS)
def test_autocast_inside_forward(backend: str) -> None:
    torch.manual_seed(0)
    model = Autocast().eval()
    net = aw.Network.wrap(model, input_size=16, backend="auto" if backend == "fx" else backend)
    img = _images(2, 16)
    assert _problems(net, img) == []
    x = net.preprocess.batch(img)
    assert net.extractor.run(x, ["conv2"])["conv2"].dtype == torch.bfloat16
    if backend == "fx":
        assert "autocast" in net.extractor.trace_error
        with pytest.raises(ExtractionError, match="autocast"):
            Extractor(model, x, backend="fx")


# ---------------------------------------------------------------------- 4: no trace artefact
class CachedTable(nn.Module):
    """Caches a table on first use, as positional encodings often do."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 4, 3), nn.ReLU()
        self.pe = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.pe is None:
            self.pe = torch.linspace(0.0, 1.0, y.shape[-1])
        return self.relu(y - self.pe)


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_trace_artefact_left(backend: str) -> None:
    torch.manual_seed(0)
    model = CachedTable().eval()
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    assert net.layers.names
    assert model.pe is None  # the trace's Proxy and the discovery pass's table are gone
    assert _problems(net, _images(2, 16)) == []
    assert model.pe is None or type(model.pe) is torch.Tensor  # a request is a real forward pass
    out = model(torch.zeros(1, 3, 16, 16))
    assert type(out) is torch.Tensor and type(model.pe) is torch.Tensor
    assert _problems(net, _images(1, 16, seed=5)) == []


# ---------------------------------------------------------------------- 5: buffers
class Counting(nn.Module):
    """Counts its calls (a buffer and a Python int) and tracks a running mean in forward, and
    uses it (the count's ``+= 1`` runs at trace time: fx refuses, "auto" takes hooks). The
    buffers come back after every pass; the Python count is the forward pass's own (it
    counts the requests) and is no change of the model."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 4, 3), nn.ReLU()
        self.register_buffer("calls", torch.zeros(()))
        self.register_buffer("mean", torch.zeros(4))
        self.seen = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.seen += 1
        y = self.conv(x)
        self.mean.mul_(0.5).add_(0.5 * y.mean((0, 2, 3)))
        return self.relu(y - self.mean.view(1, -1, 1, 1))


class Tracking(Counting):
    """A running mean that fx records (``copy_`` of a value made from the input), read
    through values the trace computes from the buffer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        self.mean.copy_(0.5 * self.mean + 0.5 * y.mean((0, 2, 3)))
        return self.relu(y - self.mean.view(1, -1, 1, 1))


@pytest.mark.parametrize("backend,build", [("fx", Tracking), ("auto", Counting),
                                           ("hooks", Counting), ("hooks", Tracking)])
def test_buffers_and_attributes_untouched(backend: str, build: type) -> None:
    torch.manual_seed(0)
    model = build().eval()
    before = checks.snapshot(model)
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    img = _images(1, 16)
    _ = net.layers
    assert checks.state_changes(before, checks.snapshot(model)) == []
    if backend == "auto":
        assert net.extractor.backend == "hooks" and "'calls'" in net.extractor.trace_error
    for _ in range(2):  # each call runs on the model as the user left it
        net.cache.clear()
        assert _problems(net, img) == []
    assert checks.state_changes(before, checks.snapshot(model)) == []
    hits = net.cache.hits
    aw.activations(net, img[0], "relu")
    assert net.cache.hits == hits + 1  # putting a buffer back is no change of the model
    with torch.no_grad():
        model.mean.fill_(1.0)  # the user's own change is one
    assert _problems(net, img) == []


# ---------------------------------------------------------------------- 6: batch-dependent layers
@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_dependent_values_not_cached_per_image(backend: str) -> None:
    """After a request for [a, b], the batch norm's value for a alone is computed alone."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, track_running_stats=False),
                          nn.ReLU(), nn.Conv2d(4, 4, 3)).eval()
    net = aw.Network.wrap(model, input_size=16, backend=backend)
    a, b = _images(2, 16)
    for layer in ("0", "1", "2", "3"):  # cached with b beside a
        aw.activations(net, [a, b], layer, stage="both")
    cap = ref.HookCapture(model).run(net.preprocess.batch([a]))
    for layer in ("1", "2", "3"):
        for stage, got in aw.activations(net, a, layer, stage="both").items():
            want = cap.values[ref.point_key(net.extractor, net.layers[layer].point(stage))]
            assert np.array_equal(got, want[0].numpy()), f"{layer}/{stage}"
    assert net.extractor.batch_dependent() == {"1", "2", "3"}
    hits = net.cache.hits
    aw.activations(net, a, "0")  # the conv before the batch norm is cached per image
    assert net.cache.hits == hits + 1
    assert _problems(net, [a, b]) == [] and _problems(net, [b, a]) == []


# ---------------------------------------------------------------------- 11: torch.compile
@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_model_is_unwrapped(backend: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3)).eval()
    compiled = torch.compile(model)
    with pytest.warns(UserWarning, match=r"torch\.compile.*_orig_mod"):
        net = aw.Network.wrap(compiled, input_size=16, backend=backend)
    assert net.model is model
    assert _problems(net, _images(1, 16, seed=5)) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_submodule_is_a_clear_error(backend: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    model.add_module("head", torch.compile(nn.Conv2d(4, 4, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = aw.Network.wrap(model, input_size=16, backend=backend)
    with pytest.raises(ExtractionError, match=r"'head' is compiled by torch\.compile.*head\._orig_mod"):
        _ = net.layers


# ---------------------------------------------------------------------- 12: one check per call
@pytest.mark.parametrize("backend", BACKENDS)
def test_model_checked_once_per_public_call(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, net = _resnet(backend)
    img = _images(1, 64)[0]
    _ = net.layers
    calls = []
    stale = Extractor.stale
    monkeypatch.setattr(Extractor, "stale", lambda self: calls.append(1) or stale(self))
    aw.activations(net, img, net.layers.names, stage="both")
    assert len(calls) == 2  # net.layers.names above, and the call itself
