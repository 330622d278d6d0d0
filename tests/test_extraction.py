"""The extractor on tiny models with hand-computed answers, both backends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from actwidgets.extract import ExtractionError, Extractor, preserve_model_state

BACKENDS = ["fx", "hooks"]


def conv_relu_model() -> nn.Module:
    """1 → 2 channels, 1×1 conv with weights +1 and -1, no bias, then an in-place ReLU."""
    model = nn.Sequential(nn.Conv2d(1, 2, 1, bias=False), nn.ReLU(inplace=True), nn.MaxPool2d(2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
    return model.eval()


X = torch.tensor([[[[1.0, -2.0], [3.0, -4.0]]]])
PRE = [[[1.0, -2.0], [3.0, -4.0]], [[-1.0, 2.0], [-3.0, 4.0]]]
POST = [[[1.0, 0.0], [3.0, 0.0]], [[0.0, 2.0], [0.0, 4.0]]]


class Basic(nn.Module):
    """torchvision's BasicConv2d pattern: conv → batch norm → functional in-place ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class Reused(nn.Module):
    """One ReLU module called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(1, 1, 1, bias=False)
        self.b = nn.Conv2d(1, 1, 1, bias=False)
        self.relu = nn.ReLU()
        with torch.no_grad():
            self.a.weight.fill_(-1.0)
            self.b.weight.fill_(-2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.b(self.relu(self.a(x))))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        with torch.no_grad():
            self.conv.weight.fill_(2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            x = x * 1.0
        return self.relu(self.conv(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_pre_survives_an_inplace_relu(backend):
    ext = Extractor(conv_relu_model(), X, backend=backend)
    out = ext.run(X, ["0", "1", "2"])
    assert out["0"][0].tolist() == PRE
    assert out["1"][0].tolist() == POST
    assert out["2"][0].flatten().tolist() == [3.0, 4.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_points_pair_conv_with_its_relu(backend):
    ext = Extractor(conv_relu_model(), X, backend=backend)
    conv, relu, pool = (ext.point(n) for n in ("0", "1", "2"))
    assert (conv.kind, relu.kind, pool.kind) == ("conv", "relu", "pool")
    assert conv.post == "1" and relu.pre == "0"
    assert pool.pre is None and pool.post is None
    assert conv.shape == (2, 2, 2) and pool.shape == (2, 1, 1)


def test_naive_capture_gets_post_relu_values_for_the_conv():
    """Why the extractor clones: a plain forward hook sees the conv output after the ReLU."""
    model = conv_relu_model()
    seen = {}
    handle = model[0].register_forward_hook(lambda m, i, o: seen.setdefault("conv", o))
    try:
        with torch.no_grad():
            model(X)
    finally:
        handle.remove()
    assert seen["conv"][0].tolist() == POST  # corrupted by ReLU(inplace=True)

    from torchvision.models.feature_extraction import create_feature_extractor

    fe = create_feature_extractor(model, return_nodes=["0", "1"])
    with torch.no_grad():
        naive = fe(X)
    assert naive["0"][0].tolist() == POST  # the same for torchvision's helper
    ours = Extractor(model, X).run(X, ["0"])
    assert ours["0"][0].tolist() == PRE


@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_relu_inside_a_block(backend):
    model = nn.Sequential(Basic()).eval()
    with torch.no_grad():
        model[0].conv.weight.fill_(1.0)
        model[0].bn.running_mean.fill_(1.0)  # bn(x) = (x - 1) / sqrt(1 + eps)
    x = torch.tensor([[[[0.0, 2.0], [4.0, -1.0]]]])
    ext = Extractor(model, x, backend=backend)
    bn = ext.point("0.bn")
    assert bn.post is not None
    out = ext.run(x, [bn.name, bn.post])
    scale = 1 / (1 + 1e-5) ** 0.5
    expected_pre = torch.tensor([[-1.0, 1.0], [3.0, -2.0]]) * scale
    torch.testing.assert_close(out[bn.name][0, 0], expected_pre)
    torch.testing.assert_close(out[bn.post][0, 0], expected_pre.clamp(min=0))
    # The block's own name gives its output, the post-ReLU value.
    torch.testing.assert_close(ext.run(x, ["0"])["0"], out[bn.post])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_reused_relu_gives_separate_entries(backend):
    x = torch.tensor([[[[1.0, -1.0]]]])
    ext = Extractor(Reused().eval(), x, backend=backend)
    names = [p.name for p in ext.points if p.kind == "relu"]
    assert names == ["relu", "relu_1"]
    out = ext.run(x, ["relu", "relu_1", "a", "b"])
    assert out["a"].flatten().tolist() == [-1.0, 1.0]
    assert out["relu"].flatten().tolist() == [0.0, 1.0]
    assert out["b"].flatten().tolist() == [0.0, -2.0]
    assert out["relu_1"].flatten().tolist() == [0.0, 0.0]
    assert ext.point("relu_1").pre == "b"


def test_untraceable_model_falls_back_to_hooks():
    x = torch.tensor([[[[1.0, -1.0]]]])
    ext = Extractor(Untraceable().eval(), x)
    assert ext.backend == "hooks" and ext.trace_error
    out = ext.run(x, ["conv", "relu"])
    assert out["conv"].flatten().tolist() == [2.0, -2.0]
    assert out["relu"].flatten().tolist() == [2.0, 0.0]
    with pytest.raises(ExtractionError, match="hooks"):
        Extractor(Untraceable(), x, backend="fx")


def test_fx_and_hooks_give_identical_tensors():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3), nn.BatchNorm2d(8),
        nn.ReLU(inplace=True), nn.MaxPool2d(2), nn.Conv2d(8, 4, 1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3),
    ).eval()
    x = torch.randn(2, 3, 12, 12)
    fx, hooks = Extractor(model, x, backend="fx"), Extractor(model, x, backend="hooks")
    assert fx.backend == "fx" and hooks.backend == "hooks"
    common = [p.name for p in hooks.points if p.name in fx]
    assert len(common) == len(model)
    out_fx, out_hooks = fx.run(x, common), hooks.run(x, common)
    for name in common:
        assert torch.equal(out_fx[name], out_hooks[name]), name
        assert fx.point(name).pre == hooks.point(name).pre
        assert fx.point(name).post == hooks.point(name).post


class Exploding(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        self.boom = nn.Conv2d(1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(x))
        return self.boom(x)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stops_after_the_deepest_requested_point(backend):
    model = Exploding().eval()
    x = torch.ones(1, 1, 2, 2)
    ext = Extractor(model, x, backend=backend)
    calls = []
    model.boom.forward = lambda t: calls.append(1) or t  # instance attribute: counts calls
    try:
        ext.run(x, ["conv", "relu"])
        assert calls == []
    finally:
        del model.boom.forward


def _hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_model_is_left_as_it_was_even_when_forward_raises(backend):
    model = conv_relu_model()
    model.train()
    model[2].eval()  # mixed modes must come back exactly
    model[0].weight.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ext = Extractor(model, X, backend=backend)
    ext.run(X, ["0", "1"])
    assert _hook_count(model) == 0
    assert [m.training for m in model.modules()] == [True, True, True, False]
    assert model[0].weight.requires_grad is False

    # A forward pass that fails halfway through.
    with pytest.raises(RuntimeError):
        ext.run(torch.ones(1, 3, 2, 2), ["2"])  # wrong channel count
    assert _hook_count(model) == 0
    assert [m.training for m in model.modules()] == [True, True, True, False]
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_run_is_in_eval_mode_and_under_no_grad():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.Dropout(p=0.99)).train()
    x = torch.ones(1, 1, 4, 4)
    ext = Extractor(model, x)
    a, b = ext.run(x, ["1"])["1"], ext.run(x, ["1"])["1"]
    assert torch.equal(a, b)  # dropout off
    assert not a.requires_grad
    assert model.training
    g = ext.run(x.requires_grad_(True), ["1"], grad=True)["1"]
    assert g.requires_grad


def test_preserve_model_state_restores_on_error():
    model = conv_relu_model().train()
    with pytest.raises(ValueError):
        with preserve_model_state(model, freeze=True):
            assert not model.training
            assert not model[0].weight.requires_grad
            raise ValueError
    assert model.training and model[0].weight.requires_grad


def test_errors_name_the_next_step():
    ext = Extractor(conv_relu_model(), X)
    with pytest.raises(ExtractionError, match="no point named 'nope'"):
        ext.run(X, ["nope"])
    with pytest.raises(ValueError, match="at least one"):
        ext.run(X, [])
    with pytest.raises(TypeError, match="nn.Module"):
        Extractor("not a model", X)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        Extractor(conv_relu_model(), X, backend="magic")


class MutatesThroughAView(nn.Module):
    """In-place ops the clone must still guard against: through a view, and a method."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.fill_(-1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y.view(-1).relu_()  # changes y through a view
        z = y * 1.0
        z.add_(5.0)
        return z


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_place_changes_through_views_and_methods_do_not_leak(backend):
    x = torch.tensor([[[[1.0, -2.0]]]])
    ext = Extractor(MutatesThroughAView().eval(), x, backend=backend)
    if backend == "fx":
        names = [p.name for p in ext.points]
        conv, mul = "conv", next(n for n in names if n.startswith("mul"))
        out = ext.run(x, [conv, mul, names[-1]])
        assert out[conv].flatten().tolist() == [-1.0, 2.0]  # before the relu_ on the view
        assert out[mul].flatten().tolist() == [0.0, 2.0]  # before the add_
        assert out[names[-1]].flatten().tolist() == [5.0, 7.0]
    else:
        assert ext.run(x, ["conv"])["conv"].flatten().tolist() == [-1.0, 2.0]


# ---------------------------------------------------------------- regressions: values that were
# silently wrong. Each model is tiny and its answer computed by hand or by plain torch ops.
X4 = torch.tensor([[[[1.0, -2.0], [3.0, -4.0]]]])


def _conv1x1(w: float, inplace_next: bool = False) -> nn.Conv2d:
    conv = nn.Conv2d(1, 1, 1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(w)
    return conv


class TwoConvs(nn.Module):
    """Submodules named like fx's own numbering: conv_1, conv_2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_1, self.conv_2 = _conv1x1(2.0), _conv1x1(-3.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_2(self.conv_1(x))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_module_named_like_a_repeat_keeps_its_name(backend):
    ext = Extractor(TwoConvs().eval(), X4, backend=backend)
    out = ext.run(X4, ["conv_1", "conv_2"])
    assert out["conv_1"].flatten().tolist() == [2.0, -4.0, 6.0, -8.0]
    assert out["conv_2"].flatten().tolist() == [-6.0, 12.0, -18.0, 24.0]
    assert [p.name for p in ext.points if p.kind == "conv"] == ["conv_1", "conv_2"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("between", [nn.Identity, lambda: nn.Dropout(0.5)])
def test_a_value_seen_through_identity_or_dropout_keeps_its_pre_relu_value(backend, between):
    model = nn.Sequential(_conv1x1(1.0), between(), nn.ReLU(inplace=True), _conv1x1(1.0)).eval()
    ext = Extractor(model, X4, backend=backend)
    out = ext.run(X4, ["0", "3"])
    assert out["0"].flatten().tolist() == [1.0, -2.0, 3.0, -4.0]  # not ReLU'd
    assert out["3"].flatten().tolist() == [1.0, 0.0, 3.0, 0.0]
    # The conv's post stage is the ReLU behind the identity.
    assert ext.point("0").post == "2" and ext.point("2").pre == "0"


class UnassignedRelu(nn.Module):
    """An in-place activation whose result is not assigned: later layers see it anyway."""

    def __init__(self, functional: bool) -> None:
        super().__init__()
        self.functional = functional
        self.conv, self.c2 = _conv1x1(1.0), _conv1x1(10.0)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if self.functional:
            F.relu(y, inplace=True)
        else:
            self.act(y)
        return self.c2(y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("functional", [False, True])
def test_an_unassigned_in_place_activation_still_reaches_later_layers(backend, functional):
    ext = Extractor(UnassignedRelu(functional).eval(), X4, backend=backend)
    out = ext.run(X4, ["conv", "c2"])
    assert out["conv"].flatten().tolist() == [1.0, -2.0, 3.0, -4.0]
    assert out["c2"].flatten().tolist() == [10.0, 0.0, 30.0, 0.0]
    # Alone, and the other way round, the same answers.
    assert ext.run(X4, ["c2"])["c2"].flatten().tolist() == [10.0, 0.0, 30.0, 0.0]


class Residual(nn.Module):
    """ResNet's pattern: the ReLU's input is the sum, not the batch norm's output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _conv1x1(-1.0)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        out += x * 3
        return self.relu(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_relu_after_a_residual_add_sees_the_sum(backend):
    ext = Extractor(Residual().eval(), X4, backend=backend)
    relu = ext.point("relu")
    out = ext.run(X4, ["conv", relu.pre, "relu"])
    assert out["conv"].flatten().tolist() == [-1.0, 2.0, -3.0, 4.0]  # before the +=
    assert out[relu.pre].flatten().tolist() == [2.0, -4.0, 6.0, -8.0]  # the sum
    assert out["relu"].flatten().tolist() == [2.0, 0.0, 6.0, 0.0]
    assert ext.point("conv").post is None  # the conv is not paired with that ReLU


class Functional(nn.Module):
    """Functional and method activations, and a hand-written ReLU (clamp_ with min 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = _conv1x1(1.0), _conv1x1(1.0), _conv1x1(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.a(x))
        z = self.b(y - 1.5)
        z.clamp_(min=0)
        w = torch.relu_(self.c(x))
        return F.gelu(z + w)


@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_activations_are_layers_with_both_stages(backend):
    ext = Extractor(Functional().eval(), X4, backend=backend)
    kinds = {p.name: p.kind for p in ext.points}
    assert kinds["relu"] == kinds["clamp_"] == kinds["relu_"] == "relu"
    assert kinds["gelu"] == "activation"
    assert ext.point("a").post == "relu" and ext.point("b").post == "clamp_"
    assert ext.point("c").post == "relu_"
    out = ext.run(X4, ["a", "relu", "b", "clamp_", "c", "relu_"])
    assert out["a"].flatten().tolist() == [1.0, -2.0, 3.0, -4.0]
    assert out["relu"].flatten().tolist() == [1.0, 0.0, 3.0, 0.0]
    assert out["b"].flatten().tolist() == [-0.5, -1.5, 1.5, -1.5]
    assert out["clamp_"].flatten().tolist() == [0.0, 0.0, 1.5, 0.0]
    assert out["c"].flatten().tolist() == [1.0, -2.0, 3.0, -4.0]
    assert out["relu_"].flatten().tolist() == [1.0, 0.0, 3.0, 0.0]


def test_clamp_is_an_activation_only_with_a_lower_bound_of_zero():
    from actwidgets.extract._kinds import module_kind, op_kind

    assert op_kind("clamp_", (None,), {"min": 0}) == "relu"
    assert op_kind("clamp", (None, 0.0, 6.0)) == "relu"
    assert op_kind("clamp", (None,), {"min": -1.0, "max": 1.0}) == "other"
    assert op_kind("clamp_min", (None, 0)) == "relu"
    assert module_kind(nn.Hardtanh(0.0, 6.0)) == "relu" and module_kind(nn.Hardtanh()) == "other"
    for act in (nn.ReLU6(), nn.LeakyReLU(), nn.PReLU(), nn.ELU(), nn.SELU(), nn.CELU(), nn.GELU(),
                nn.SiLU(), nn.Mish(), nn.Hardswish(), nn.Hardsigmoid(), nn.Sigmoid(), nn.Tanh(),
                nn.Softplus()):
        assert module_kind(act) in ("relu", "activation"), act


class DataDependent(nn.Module):
    """fx cannot trace it; its last F.relu must still be a point under hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _conv1x1(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if float(y.sum()) > -1e9:
            y = y * 2.0
        return F.relu(y)


def test_hooks_see_a_functional_activation_after_data_dependent_control_flow():
    ext = Extractor(DataDependent().eval(), X4)
    assert ext.backend == "hooks"
    relu = ext.point("relu")
    assert relu.kind == "relu" and relu.pre == "relu:in"
    out = ext.run(X4, ["conv", "relu:in", "relu"])
    assert out["relu:in"].flatten().tolist() == [2.0, -4.0, 6.0, -8.0]
    assert out["relu"].flatten().tolist() == [2.0, 0.0, 6.0, 0.0]
    assert out["conv"].flatten().tolist() == [1.0, -2.0, 3.0, -4.0]


@pytest.mark.parametrize("name", ["squeezenet", "googlenet"])
def test_zoo_networks_work_with_the_hooks_backend(name):
    import actwidgets as aw

    fx, hooks = (aw.load_model(name, weights=None, backend=b) for b in ("fx", "hooks"))
    assert hooks.extractor.backend == "hooks" and fx.layers.names == hooks.layers.names
    face = aw.sample_image("face")
    a = aw.activations(fx, face, fx.layers.names, stage="both")
    b = aw.activations(hooks, face, fx.layers.names, stage="both")
    for layer in fx.layers.names:
        for stage in ("pre", "post"):
            np.testing.assert_array_equal(a[layer][stage], b[layer][stage], err_msg=f"{layer} {stage}")


def _zero_if_positive(t: torch.Tensor) -> torch.Tensor:
    """Writes into ``t`` for some inputs only: a profile on one input cannot see it."""
    if float(t.sum()) > 0:
        t.zero_()
    return t * 1.0


torch.fx.wrap("_zero_if_positive")


class Sometimes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.c2 = _conv1x1(1.0), _conv1x1(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        _zero_if_positive(y)
        return self.c2(y)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_value_written_by_an_op_the_profile_did_not_see_is_taken_again(backend):
    model = Sometimes().eval()
    ext = Extractor(model, -torch.ones(1, 1, 2, 2), backend=backend)  # no write on this input
    for _ in range(2):  # the second time it is cloned from the start
        out = ext.run(X4 + 5, ["conv", "c2"])
        assert out["conv"].flatten().tolist() == [6.0, 3.0, 8.0, 1.0]  # not zeroed
        assert out["c2"].flatten().tolist() == [0.0, 0.0, 0.0, 0.0]
