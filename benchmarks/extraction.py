"""Extraction speed over a model corpus, as ratios to a plain forward pass in the same process.

    python benchmarks/extraction.py [--repeats 15] [--models squeezenet,resnet18] [--no-torchlens]
                                    [--clock wall|cpu] [--threads N] [--out docs/benchmarks.md]

For each model (random weights: speed does not depend on them; batch 1, CPU) it times, round
robin so that machine noise hits every column alike, the median of:

- ``forward``: the plain forward pass under ``torch.no_grad()``;
- ``public``: what a user calls, ``aw.activations(net, picture, net.layers.names,
  stage="both")`` on a uint8 picture at the input size, the cache emptied first (so the
  preprocessing, the staleness check, the (C, H, W) maps, the cache and the copies handed
  back are all in it);
- ``both``: every catalogue layer, both stages, in one ``Extractor.run`` (the internal path);
- ``one``: every catalogue layer, its default stage;
- ``hooks``: a hand-written capture, a forward hook cloning every leaf module's output
  (the practical floor for holding every value);
- ``first``: the first layer alone (the forward pass is cut after it);
- ``torchlens``: TorchLens' full trace (in a child process: it wraps torch's functions).

``--clock cpu`` times the CPU the process used instead of the wall clock: on a shared machine
it is the steadier measure (other processes' turns on the cores are not counted); with
``--threads 1`` it is the single-core time of each call.

Targets: ``public`` at most 1.3x forward on every model and within 10 % of ``both``; ``one``
within 10 % of ``hooks``; ``first`` at most 0.1x. The table goes to stdout and to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

import actwidgets as aw

#: (name, input size): the corpus, from the smallest networks to ViT.
CORPUS = [
    ("squeezenet", 227), ("resnet18", 224), ("resnet50", 224), ("mobilenet_v2", 224),
    ("mnasnet0_5", 224), ("efficientnet_b0", 224), ("googlenet", 224), ("convnext_tiny", 224),
    ("swin_t", 224), ("vit_b_16", 224), ("vgg16", 224),
]
COLUMNS = ["forward", "public", "both", "one", "hooks", "first"]


def load(name: str, size: int) -> aw.Network:
    return aw.load_model(name, weights=None, input_size=size)


def hook_capture(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """A forward hook on every leaf module, cloning its output: the hand-written floor."""
    out: list[torch.Tensor] = []
    leaves = [m for _, m in model.named_modules() if next(m.children(), None) is None]
    handles = [m.register_forward_hook(lambda _m, _i, o: out.append(o.clone())
                                       if isinstance(o, torch.Tensor) else None) for m in leaves]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return out


def jobs(net: aw.Network, x: torch.Tensor) -> dict[str, Callable[[], object]]:
    ext, model = net.extractor, net.model
    picture = (x[0].permute(1, 2, 0).clamp(0, 1) * 255).to(torch.uint8).numpy()
    names = net.layers.names
    both = list(dict.fromkeys(p for layer in net.layers for p in (layer.pre, layer.post)))
    one = list(dict.fromkeys(layer.point() for layer in net.layers))
    first = [net.layers[0].point()]

    def forward() -> object:
        with torch.no_grad():
            return model(x)

    def public() -> object:
        net.cache.clear()
        return aw.activations(net, picture, names, stage="both")

    return {
        "forward": forward, "public": public, "both": lambda: ext.run(x, both),
        "one": lambda: ext.run(x, one),
        "hooks": lambda: hook_capture(model, x), "first": lambda: ext.run(x, first),
    }


def measure(name: str, size: int, repeats: int, clock: Callable[[], float] = time.perf_counter
            ) -> dict[str, float]:
    net = load(name, size)
    x = torch.rand(1, 3, *net.input_size, generator=torch.Generator().manual_seed(0))
    todo = jobs(net, x)
    for fn in todo.values():  # warm up: build the cut graphs, fault the memory in
        fn(), fn()
    times: dict[str, list[float]] = {k: [] for k in todo}
    for _ in range(repeats):
        for key, fn in todo.items():
            start = clock()
            fn()
            times[key].append(clock() - start)
    result = {k: statistics.median(v) for k, v in times.items()}
    result["layers"] = len(net.layers)
    result["values"] = len({p for layer in net.layers for p in (layer.pre, layer.post)})
    return result


def torchlens_time(name: str, size: int, repeats: int) -> float | None:
    """TorchLens' full trace, timed in a child process (it wraps torch's functions)."""
    code = (
        "import sys, time, statistics, torch, torchlens as tl\n"
        "sys.path.insert(0, 'benchmarks'); from extraction import load\n"
        f"net = load({name!r}, {size}); x = torch.randn(1, 3, *net.input_size)\n"
        "opts = tl.options.CaptureOptions(unwrap_when_done=True)\n"
        "tl.trace(net.model, x, capture=opts)\n"
        "t = []\n"
        f"for _ in range({repeats}):\n"
        "    s = time.perf_counter(); tl.trace(net.model, x, capture=opts)\n"
        "    t.append(time.perf_counter() - s)\n"
        "print(statistics.median(t))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        return float(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


def table(rows: list[dict]) -> str:
    head = ("| model | layers (values) | forward | public call | both stages | public / both "
            "| one stage | hook capture | one / hooks | first layer | TorchLens |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        f = r["forward"]
        lens = f"{r['torchlens'] / f:.1f}×" if r.get("torchlens") else "–"
        lines.append(
            f"| {r['model']} | {r['layers']} ({r['values']}) | {f * 1e3:.1f} ms | "
            f"{r['public'] / f:.2f}× | {r['both'] / f:.2f}× | {r['public'] / r['both']:.2f} | "
            f"{r['one'] / f:.2f}× | {r['hooks'] / f:.2f}× | "
            f"{r['one'] / r['hooks']:.2f} | {r['first'] / f:.3f}× | {lens} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--models", default=",".join(n for n, _ in CORPUS))
    parser.add_argument("--no-torchlens", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--threads", type=int, default=None, help="torch's intra-op threads")
    parser.add_argument("--out", default=None, help="also write the table to this Markdown file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = dict(CORPUS)
    rows = []
    for name in args.models.split(","):
        size = sizes.get(name, 224)
        clock = time.perf_counter if args.clock == "wall" else time.process_time
        row = {"model": f"{name} {size}px", **measure(name, size, args.repeats, clock)}
        if not args.no_torchlens:
            row["torchlens"] = torchlens_time(name, size, max(3, args.repeats // 5))
        rows.append(row)
        print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}),
              flush=True)
    text = (f"Extraction on {platform.processor() or platform.machine()}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}, batch 1, medians of "
            f"{args.repeats} round-robin runs of the {'CPU time' if args.clock == 'cpu' else 'wall clock'}"
            "; ratios to the plain forward pass.\n\n" + table(rows))
    print("\n" + text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(f"# Benchmarks\n\n`python {' '.join(sys.argv)}`\n\n" + text + "\n")


if __name__ == "__main__":
    main()
