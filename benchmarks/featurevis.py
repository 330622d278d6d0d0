"""How fast is feature visualisation? A script that prints; not a test.

    PYTHONPATH=. python benchmarks/featurevis.py [--device cuda] [--repeats 5]

For 20 channels of one SqueezeNet layer at 128 px and 20 steps it prints:

(a) the batched run (all channels in one batch) against the walkthrough's loop over the
    channels one at a time (same method "basic", same steps), as a ratio;
(b) the cost of one optimisation step against the physical floor, a bare forward + backward
    pass of the same truncated model (torchvision's ``create_feature_extractor``, cut at the
    same node) on a batch of the same shape, for "basic" (target <= 1.1x) and "regularized"
    (target <= 1.5x); a bare pass runs right after every step and the figure is the median
    of the per-pair ratios;
(c) seconds per step of "regularized" at 224 px (20 channels);
(d) seconds per step at the FeatureVisualizer's CPU cap (``CPU_PIXELS``: 16 channels at
    256 px) on the deepest layer, fire9: what the widget's Stop waits for at worst.

Every figure is a median over repeated runs in one process; the baselines are measured in
the same run, interleaved with what they are compared with (so that a busy machine slows both
alike: on a shared machine, compare the ratios, not the absolute times). Uses the real
SqueezeNet weights where $TORCH_HOME has them, random weights otherwise
(the timings do not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)

import actwidgets as aw  # noqa: E402
from actwidgets.featurevis import visualize_channels  # noqa: E402
from actwidgets.widgets._channels import CPU_PIXELS  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load(device: str) -> aw.Network:
    try:
        net = aw.load_model("squeezenet")
    except aw.WeightsUnavailableError:
        print("(no SqueezeNet weights here: random weights; timings are the same)")
        net = aw.load_model("squeezenet", weights=None)
    return net.to(device)


def make_bare(net, point, chans, size, device):
    """Forward + backward of the same truncated model, alone, on a batch of the same shape:
    torchvision's ``create_feature_extractor`` cut at the same node, gradient with respect to
    the input only (the weights are frozen, as during the optimisation)."""
    from torchvision.models.feature_extraction import create_feature_extractor

    trunk = create_feature_extractor(net.model, {point: "out"})
    idx = torch.tensor(chans, device=device)
    rows = torch.arange(len(chans), device=device)
    x0 = torch.rand(len(chans), net.preprocess.channels, size, size, device=device)

    def bare() -> float:
        with aw.preserve_model_state(net.model, freeze=True):
            sync(device)
            t = time.perf_counter()
            x = x0.clone().requires_grad_(True)
            acts = trunk(x)["out"]
            acts[rows, idx].mean(dim=(1, 2)).sum().backward()
            sync(device)
            return time.perf_counter() - t

    return bare


def paired_steps(net, layer, chans, method, size, steps, bare, device):
    """(step times, bare times): one bare pass right after every optimisation step.

    Each step is timed from the end of the previous bare pass to the step's callback, so
    the two alternate and a busy machine slows both alike. The first step (warm-up) is
    left out.
    """
    step_t: list[float] = []
    bare_t: list[float] = []
    last = [None]

    def tick(done: int, total: int) -> None:
        sync(device)
        now = time.perf_counter()
        if last[0] is not None:
            step_t.append(now - last[0])
            bare_t.append(bare())
        last[0] = time.perf_counter()

    visualize_channels(net, layer, chans, method=method, size=size, steps=steps,
                       progress=False, callback=tick)
    return step_t, bare_t


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def batched_vs_loop(net, layer, chans, size, steps, repeats, device) -> None:
    """(a) batched vs one channel at a time, alternating."""
    kw = dict(method="basic", size=size, steps=steps, progress=False)

    def batched() -> None:
        visualize_channels(net, layer, chans, **kw)
        sync(device)

    def one_by_one() -> None:
        for c in chans:
            visualize_channels(net, layer, [c], **kw)
        sync(device)

    tb, t_loop = [], []
    for _ in range(repeats):
        tb.append(timed(batched))
        t_loop.append(timed(one_by_one))
    b, loop = statistics.median(tb), statistics.median(t_loop)
    print(f"(a) basic, {len(chans)} channels x {steps} steps: batched {b:.2f} s, one channel at a "
          f"time {loop:.2f} s -> batched is {loop / b:.1f}x faster")


def step_vs_bare(net, layer, chans, size, steps, repeats, bare, device) -> None:
    """(b) one step against a bare forward + backward, paired step by step."""
    for method, target in (("basic", 1.1), ("regularized", 1.5)):
        st, bt = [], []
        for _ in range(repeats):
            s_, b_ = paired_steps(net, layer, chans, method, size, steps + 1, bare, device)
            st += s_
            bt += b_
        ratio = statistics.median([x / y for x, y in zip(st, bt, strict=True)])
        verdict = "ok" if ratio <= target else "over target"
        print(f"(b) {method:<11}: step {statistics.median(st) * 1e3:.1f} ms, bare forward+backward "
              f"{statistics.median(bt) * 1e3:.1f} ms -> {ratio:.2f}x, median of {len(st)} pairs "
              f"(target <= {target}x: {verdict})")


def regularized_224(net, layer, point, chans, repeats, device) -> None:
    """(c) regularized at 224 px."""
    bare224 = make_bare(net, point, chans, 224, device)
    bare224()
    st, bt = paired_steps(net, layer, chans, "regularized", 224, 2 * repeats + 1, bare224, device)
    ratio = statistics.median([x / y for x, y in zip(st, bt, strict=True)])
    s_ = statistics.median(st)
    print(f"(c) regularized at 224 px, {len(chans)} channels: {s_:.3f} s per step (bare forward+"
          f"backward {statistics.median(bt):.3f} s, {ratio:.2f}x); 256 steps ~ {256 * s_:.0f} s")


def step_times(net, layer, chans, method, size, steps, device) -> list[float]:
    """Seconds of each optimisation step (from one callback to the next)."""
    times: list[float] = []
    last = [time.perf_counter()]

    def tick(done: int, total: int) -> None:
        sync(device)
        times.append(time.perf_counter() - last[0])
        last[0] = time.perf_counter()

    visualize_channels(net, layer, chans, method=method, size=size, steps=steps,
                       progress=False, callback=tick)
    return times


def step_at_cap(net, repeats, device) -> None:
    """(d) one step at the widget's CPU cap, on the deepest layer: how long Stop can wait."""
    cap_layer, cap_size = "fire9-relu_expand3x3", 256
    cap_chans = list(range(CPU_PIXELS // cap_size**2))
    for method in ("basic", "regularized"):
        times = step_times(net, cap_layer, cap_chans, method, cap_size, repeats + 1, device)
        print(f"(d) {method:<11} at the CPU cap ({len(cap_chans)} channels x {cap_size} px, "
              f"{cap_layer}): {statistics.median(times[1:]):.2f} s per step")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu or cuda (skipped where CUDA is absent)")
    ap.add_argument("--layer", default="fire4-relu_expand3x3")
    ap.add_argument("--channels", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("CUDA is not available here: skipped")
        return
    device = torch.device(args.device)
    net = load(args.device)
    layer, size, steps = args.layer, args.size, args.steps
    chans = list(range(args.channels))
    point = net.layers.resolve(layer)
    print(f"torch {torch.__version__}, {device}, {torch.get_num_threads()} threads; "
          f"{net.name} {layer} ({point}), {len(chans)} channels, {size} px, {steps} steps, "
          f"{args.repeats} repeats")

    # warm up every path once
    bare = make_bare(net, point, chans, size, device)
    for method in ("basic", "regularized"):
        visualize_channels(net, layer, chans, method=method, size=size, steps=2, progress=False)
    bare()

    batched_vs_loop(net, layer, chans, size, steps, args.repeats, device)
    step_vs_bare(net, layer, chans, size, steps, args.repeats, bare, device)
    regularized_224(net, layer, point, chans, args.repeats, device)
    step_at_cap(net, args.repeats, device)

if __name__ == "__main__":
    main()
