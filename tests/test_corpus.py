"""Differential test over a model corpus: the extractor against the from-scratch references
in ``_reference.py``, and the fx backend against the hooks backend.

For every model and backend, every catalogue layer's two stages (``LayerInfo.pre``/``.post``
→ point → reference key → reference value) must equal the reference bit for bit
(``torch.equal``), through ``Extractor.run``, through ``aw.activations(..., stage="both")``
(the (C, H, W) maps) and through one-layer requests; point names must follow the naming
rule; every activation call the reference saw must be a point; a layer's "post" must be an
activation whose input is the layer's "pre"; and the user's model must come back untouched.

Run ``python tests/test_corpus.py`` for a table per model (``-k word`` picks models).
The marker ``corpus`` is registered in pyproject.toml.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.extract import ExtractionError, Extractor

import _corpus_checks as checks  # tests/ is on sys.path (pytest's rootdir import, or python tests/...)
import _reference as ref
from _corpus_models import (
    AttentionRelu,
    BatchFree,
    DataWrite,
    DigitNames,
    EarlyFlag,
    FrozenPart,
    Functional,
    GainBetween,
    PooledTokens,
    Reused,
    ScriptedPart,
    SkippedBlock,
    SquareChannelsLast,
    TalkingHeads,
    Unassigned,
    Untraceable,
    pre_hooked,
    sequential,
)

pytestmark = pytest.mark.corpus

BACKENDS = ("fx", "hooks")
CROSS = "fx~hooks"
SINGLE_RUNS = 12  # one-layer requests per big model (all layers of a small one)


# ---------------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Spec:
    """A corpus model: how to build it (random weights), its input size and batch."""

    id: str
    build: Callable[[], nn.Module]
    size: int = 64
    batch: int = 1
    traceable: bool = True
    train: bool = False  # kept in train mode with some parameters frozen
    layouts: bool = False  # check every layout against the shapes at a 1.5S × 0.75S input


def _tv(name: str, **kwargs: object) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import torchvision

        return torchvision.models.get_model(name, weights=None, **kwargs)
    return build


def _timm(name: str, **kwargs: object) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        timm = pytest.importorskip("timm")
        return timm.create_model(name, pretrained=False, **kwargs)
    return build


def _tv_convnext_square() -> nn.Module:
    """torchvision's ConvNeXt, 16 channels of 16×16 in stage one at 64 pixels."""
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt

    return ConvNeXt([CNBlockConfig(16, 32, 1), CNBlockConfig(32, None, 1)])


def _tv_swin_square() -> nn.Module:
    """torchvision's Swin, 16 channels of 16×16 in stage one at 64 pixels."""
    from torchvision.models.swin_transformer import SwinTransformer

    return SwinTransformer([4, 4], 16, [1, 1], [1, 2], [4, 4])


_NO_AUX = dict(aux_logits=False, init_weights=False)
SPECS = [
    Spec("digit_names", DigitNames, 16),
    Spec("seq_identity", lambda: sequential(nn.Identity()), 16),
    Spec("seq_dropout", lambda: sequential(nn.Dropout(0.5)), 16),
    Spec("seq_relu_first", lambda: nn.Sequential(nn.GELU(), nn.Conv2d(3, 4, 3)), 16),
    Spec("unassigned_module", lambda: Unassigned(False), 16),
    Spec("unassigned_functional", lambda: Unassigned(True), 16),
    Spec("functional", Functional, 16, batch=2),
    Spec("reused", Reused, 16),
    Spec("untraceable", Untraceable, 16, traceable=False),
    Spec("pre_hooked", pre_hooked, 16, traceable=False),
    Spec("attention_relu", AttentionRelu, 8),
    Spec("batch_free", BatchFree, 8, batch=2),
    # what the hooks backend's example input decides must hold for the images (issue 19)
    Spec("gain_between", GainBetween, 16, traceable=False),
    Spec("skipped_block", SkippedBlock, 16, traceable=False),
    Spec("data_write", DataWrite, 16),
    Spec("scripted_part", ScriptedPart, 16),
    Spec("frozen_part", FrozenPart, 16),
    # layouts the shape alone cannot tell
    Spec("square_channels_last", SquareChannelsLast, 32, layouts=True),
    Spec("pooled_tokens", PooledTokens, 96, layouts=True),
    Spec("talking_heads", TalkingHeads, 16, layouts=True),
    Spec("tv_convnext_square", _tv_convnext_square, layouts=True),
    Spec("tv_swin_square", _tv_swin_square, layouts=True),
    Spec("timm_convnext_nhwc_square", _timm("convnext_atto", depths=(1, 1, 1, 1),
                                            dims=(16, 32, 64, 128), conv_mlp=False), layouts=True),
    *(Spec(f"tv_{n}", _tv(n)) for n in (
        "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "efficientnet_v2_s",
        "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf",
        "resnet18", "resnet50", "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_0",
        "squeezenet1_1", "swin_t", "vgg11", "wide_resnet50_2")),
    Spec("tv_swin_v2_t_b2", _tv("swin_v2_t"), batch=2),
    Spec("tv_resnet18_train_b2", _tv("resnet18"), batch=2, train=True),
    Spec("tv_googlenet", _tv("googlenet", **_NO_AUX)),
    Spec("tv_inception_v3", _tv("inception_v3", **_NO_AUX), 75),
    Spec("tv_vit_b_16", _tv("vit_b_16", image_size=64)),
    Spec("tv_maxvit_t", _tv("maxvit_t"), 224),
    Spec("timm_resnet18", _timm("resnet18")),
    Spec("timm_efficientnet_b0", _timm("efficientnet_b0")),
    Spec("timm_convnext_atto", _timm("convnext_atto"), layouts=True),
    Spec("timm_vit_tiny", _timm("vit_tiny_patch16_224", img_size=64)),
    Spec("timm_deit_tiny_distilled", _timm("deit_tiny_distilled_patch16_224", img_size=64)),
    Spec("timm_swin_tiny", _timm("swin_tiny_patch4_window7_224", img_size=64, window_size=2)),
    # issue 19: one small variant of each further mechanism (random weights, small inputs)
    Spec("tv_inception_v3_aux", _tv("inception_v3", aux_logits=True, init_weights=False), 75),
    Spec("tv_googlenet_transform", _tv("googlenet", aux_logits=False, transform_input=True,
                                       init_weights=False)),
    *(Spec(f"timm_{n}", _timm(n)) for n in (
        "mobilenetv3_small_050", "ghostnet_050", "repvgg_a0", "hrnet_w18_small",
        "nf_regnet_b0", "rexnet_100", "dla46_c")),
    *(Spec(f"timm_{n}", _timm(n), layouts=True) for n in ("fastvit_t8", "poolformer_s12")),
    Spec("timm_edgenext_xx_small", _timm("edgenext_xx_small"), 96, layouts=True),
    Spec("timm_coatnet_pico", _timm("coatnet_pico_rw_224", img_size=64)),
    Spec("timm_mixer_s16", _timm("mixer_s16_224", img_size=64)),
    Spec("timm_resmlp_12", _timm("resmlp_12_224", img_size=64)),
    Spec("timm_cait_xxs24", _timm("cait_xxs24_224", img_size=64, depth=2)),
    Spec("timm_crossvit_tiny", _timm("crossvit_tiny_240", img_size=120), 120, traceable=False),
    Spec("timm_eva02_tiny", _timm("eva02_tiny_patch14_224", img_size=56, depth=2), 56),
    Spec("timm_xcit_nano", _timm("xcit_nano_12_p16_224", img_size=64, depth=2)),
    Spec("timm_dinov2_reg4", _timm("vit_small_patch14_reg4_dinov2", img_size=56, depth=2), 56),
    Spec("timm_beit_base", _timm("beit_base_patch16_224", img_size=64, depth=2)),
    Spec("timm_pit_ti", _timm("pit_ti_224", img_size=96), 96),
    Spec("timm_efficientformer_l1", _timm("efficientformer_l1"), 224),
]


# ---------------------------------------------------------------------- one run
@dataclass
class Result:
    """One row of the table; ``values`` holds each layer's (pre, post) for the cross check."""

    model: str
    backend: str
    layers: int = 0
    compared: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    values: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict, repr=False)


_CURRENT: dict = {"id": None}  # the model being checked, its references and results


def _current(spec: Spec) -> dict:
    """The model of ``spec`` (built once, random weights, seed 0) and what is known of it."""
    if _CURRENT["id"] != spec.id:
        _CURRENT.clear()
        torch.manual_seed(0)
        model = spec.build()
        model.train(spec.train)
        if spec.train:  # freeze the stem and the first stage
            for name, p in model.named_parameters():
                p.requires_grad_(not name.startswith(("conv1", "bn1", "layer1")))
        _CURRENT.update(id=spec.id, model=model, results={})
    return _CURRENT


def _images(spec: Spec) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (spec.size, spec.size, 3), dtype=np.uint8)
            for _ in range(spec.batch)]


def _check_maps(net: aw.Network, ext: Extractor, layers: list, images: list,
                native: dict) -> list[str]:
    """``aw.activations(..., stage="both")`` is each value's (C, H, W) map, float32."""
    got = aw.activations(net, images if len(images) > 1 else images[0],
                         [layer.name for layer in layers], stage="both")
    out = []
    for layer in layers:
        own = ext.point(layer.native).map_shape
        if (layer.channels, *layer.size) != own:
            out.append(f"{layer.name}: channels, size {layer.channels}, {layer.size} vs {own}")
        for stage, name in (("pre", layer.pre), ("post", layer.post)):
            p = ext.point(name)
            want = ref.to_map(native[name], p.layout.kind, p.layout.extra, p.map_shape)
            want = want.float().numpy() if len(images) > 1 else want[0].float().numpy()
            arr = got[layer.name][stage]
            if arr.dtype != np.float32 or arr.shape != want.shape or not np.array_equal(arr, want):
                out.append(f"activations {layer.name}/{stage}: {arr.dtype} {arr.shape} is not "
                           f"the map of {name!r} {want.shape}")
    return out


def _check_single(ext: Extractor, x: torch.Tensor, layers: list, native: dict) -> list[str]:
    """One-layer requests (cut-down graphs, early stops) give what the full request gave."""
    step = max(1, len(layers) // SINGLE_RUNS) if len(layers) > 40 else 1
    out = []
    for layer in layers[::step]:
        got = ext.run(x, [layer.pre, layer.post])
        for name in (layer.pre, layer.post):
            why = checks.diff(got[name], native[name])
            if why:
                out.append(f"alone: {layer.name} -> {name}: {why} vs the full request")
    return out


def _check_backend(spec: Spec, backend: str, res: Result) -> None:
    state = _current(spec)
    model, images = state["model"], _images(spec)
    before = checks.snapshot(model)
    net = aw.Network.wrap(model, input_size=spec.size, backend=backend)
    x = net.preprocess.batch(images)
    if backend == "fx" and not spec.traceable:
        try:
            _ = net.extractor
            res.problems.append('backend="fx" traced a model it cannot see whole '
                                '(a data-dependent if, a pre-hook on an activation)')
        except ExtractionError:
            pass
        if Extractor(model, x[:1]).backend != "hooks":
            res.problems.append('backend="auto" did not fall back to hooks')
        res.problems += checks.state_changes(before, checks.snapshot(model))
        return
    cap = ref.capture(model, x, backend)
    ext = net.extractor
    layers = list(net.layers)
    names = list(dict.fromkeys(n for layer in layers for n in (layer.pre, layer.post)))
    native = ext.run(x, names)
    res.layers, res.compared = len(layers), 2 * len(layers)
    res.values = {ly.name: (native[ly.pre], native[ly.post]) for ly in layers}
    modules = set(dict(model.named_modules()))
    todo = [
        lambda: checks.check_names(ext, modules),
        lambda: checks.check_aliases(ext, x, cap, modules),
        lambda: checks.check_values(ext, layers, native, cap, x.shape[0]),
        lambda: checks.check_stages(ext, layers, native, cap, x.shape[0]),
        lambda: checks.check_coverage(ext, cap, x.shape[0]),
        lambda: _check_maps(net, ext, layers, images, native),
        lambda: _check_single(ext, x, layers, native),
    ]
    if spec.layouts:
        todo.append(lambda: checks.check_layouts(ext, cap, _wide_capture(spec, model, backend)))
    for check in todo:  # one crashing check does not hide the others' findings
        try:
            res.problems += check()
        except Exception as exc:
            res.problems.append(_crash(exc))
    res.problems += checks.state_changes(before, checks.snapshot(model))


def _wide_capture(spec: Spec, model: nn.Module, backend: str) -> ref.Capture:
    """The reference's values at a 1.5S × 0.75S input (random pixels: only shapes count)."""
    h, w = (round(spec.size * f) for f in ref.WIDE)
    return ref.capture(model, torch.rand(spec.batch + (spec.batch == 1), 3, h, w), backend)


def _check_cross(spec: Spec, res: Result) -> None:
    """The two backends agree on every layer name both list, both stages."""
    fx, hooks = (run_case(spec, b) for b in BACKENDS)
    common = [n for n in fx.values if n in hooks.values]
    res.layers, res.compared = len(common), 2 * len(common)
    for name in common:
        for stage, a, b in zip(("pre", "post"), fx.values[name], hooks.values[name], strict=True):
            why = checks.diff(a, b)
            if why:
                res.problems.append(f"{name}/{stage}: fx vs hooks: {why}")


def _crash(exc: Exception) -> str:
    """``crash: Error: message (at file:line in function)``, the innermost frame."""
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    return f"crash: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} ({where})"


def run_case(spec: Spec, backend: str) -> Result:
    """The result of one (model, backend) check, computed once per model."""
    results = _current(spec)["results"]
    if backend not in results:
        res, start = Result(spec.id, backend), time.perf_counter()
        try:
            (_check_cross(spec, res) if backend == CROSS else _check_backend(spec, backend, res))
        except pytest.skip.Exception:
            raise
        except Exception as exc:  # a crash is a finding like any mismatch
            res.problems.append(_crash(exc))
        res.seconds = time.perf_counter() - start
        results[backend] = res
    return results[backend]


# ---------------------------------------------------------------------- tests
@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """One intra-op thread: on small inputs on 2 cores torch runs ~10× faster than with 2."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    _CURRENT.clear()
    _CURRENT["id"] = None


CASES = [(s, b) for s in SPECS for b in (*BACKENDS, CROSS)]


@pytest.mark.parametrize("spec,backend", CASES, ids=[f"{s.id}-{b}" for s, b in CASES])
def test_corpus(spec: Spec, backend: str) -> None:
    if backend == CROSS and not spec.traceable:
        pytest.skip("fx cannot trace this model")
    res = run_case(spec, backend)
    if res.problems:
        pytest.fail(f"{len(res.problems)} problems:\n" + "\n".join(res.problems[:40]), False)


def main(argv: list[str]) -> int:
    """Print a table: model, backend, layers, stage values compared, mismatches, seconds."""
    picks = argv[argv.index("-k") + 1].split(",") if "-k" in argv else None
    print(f"{'model':<28} {'backend':<9} {'layers':>6} {'values':>6} {'mismatches':>10} {'s':>6}")
    failed = 0
    torch.set_num_threads(1)  # see _one_thread
    for spec in SPECS:
        if picks and not any(p in spec.id for p in picks):
            continue
        for backend in (*BACKENDS, CROSS)[: 3 if spec.traceable else 2]:
            try:
                r = run_case(spec, backend)
            except pytest.skip.Exception as exc:
                print(f"{spec.id:<28} {backend:<9} skipped: {exc}")
                break
            failed += bool(r.problems)
            print(f"{r.model:<28} {r.backend:<9} {r.layers:>6} {r.compared:>6} "
                  f"{len(r.problems):>10} {r.seconds:>6.2f}", flush=True)
            for line in r.problems[:8]:
                print(f"    {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# ---------------------------------------------------------------------- the hooks backend's checks
def test_a_pairing_that_does_not_hold_for_an_input_is_reported():
    torch.manual_seed(0)
    model = EarlyFlag().eval()
    ext = Extractor(model, torch.zeros(1, 3, 4, 4), backend="hooks")
    assert ext.point("conv").post == "relu" and ext.point("relu").pre == "conv"
    dark, bright = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    assert torch.equal(ext.run(dark, ["conv", "relu"])["relu"], model(dark))
    with pytest.raises(ExtractionError, match="'relu' did not take 'conv'"):
        ext.run(bright, ["conv", "relu"])
    assert torch.equal(ext.run(bright, ["relu"])["relu"], model(bright))  # alone: its own value


def test_torchscript_is_named_as_the_cause():
    scripted = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()))
    with pytest.raises(ExtractionError, match="TorchScript.*original nn.Module"):
        Extractor(scripted, torch.zeros(1, 3, 8, 8), backend="hooks")
    ext = Extractor(ScriptedPart().eval(), torch.zeros(1, 3, 16, 16), backend="hooks")
    assert [p.name for p in ext.points] == ["b", "relu"]
    with pytest.raises(ExtractionError, match="'a' cannot be captured: it is a TorchScript module"):
        ext.point("a")


def test_the_readme_counts_the_corpus():
    import re

    text = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    found = re.search(r"both stages of (\d+) torchvision and (\d+) timm models and (\d+) "
                      r"hand-written cases .* the layouts of (\d+) of them", text)
    assert found is not None
    ids = [s.id for s in SPECS]
    tv, tm = sum(i.startswith("tv_") for i in ids), sum(i.startswith("timm_") for i in ids)
    want = (tv, tm, len(ids) - tv - tm, sum(s.layouts for s in SPECS))
    assert tuple(int(g) for g in found.groups()) == want
