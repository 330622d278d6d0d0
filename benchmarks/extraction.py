"""Extraction speed against a plain forward pass, measured in the same process.

    python benchmarks/extraction.py [--repeats 15] [--skip-vgg] [--skip-torchlens]

For SqueezeNet at 227 px and VGG16 at 224 px (random weights: speed does not depend on them),
it prints the median time of: a plain forward pass; capturing every conv and ReLU layer with
correct pre and post values (actwidgets); capturing conv1 alone; the same all-layer capture
with Captum's LayerActivation; TorchLens' full trace. Each also as a ratio to the plain
forward. Targets: all layers <= 1.2x, conv1 alone <= 0.2x, >= 10x faster than TorchLens.

Holding every captured value alive means fresh memory on each call: glibc returns freed
blocks to the kernel and the next call page-faults them back in, a cost the plain forward
pass (which frees each map as it goes) does not pay. The script therefore runs SqueezeNet a
second time in a child process with ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``
raised, which is how a long-lived kernel behaves once warm. actwidgets itself never changes
allocator settings.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch

import actwidgets as aw


def median_time(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name: str, size: int, repeats: int, torchlens: bool) -> None:
    net = aw.load_model(name, weights=None, input_size=size)
    model, ext = net.model, net.extractor
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    layers = [l for l in net.layers if l.kind in ("conv", "relu")]
    points = sorted({p for l in layers for p in (l.pre, l.post)}, key=lambda p: ext.point(p).index)
    first = net.layers[0]

    def plain() -> object:
        with torch.no_grad():
            return model(x)

    rows: list[tuple[str, float | None]] = []
    base = median_time(plain, repeats)
    rows.append(("plain forward", base))
    rows.append((f"actwidgets: {len(layers)} conv/ReLU layers, pre+post ({len(points)} values)",
                 median_time(lambda: ext.run(x, points), repeats)))
    rows.append((f"actwidgets: {first.name} alone",
                 median_time(lambda: ext.run(x, [first.point("pre")]), repeats)))

    try:
        from captum.attr import LayerActivation

        modules = [model.get_submodule(ext.point(p).module) for p in points if ext.point(p).module]
        la = LayerActivation(model, modules)
        rows.append((f"Captum LayerActivation, {len(modules)} modules",
                     median_time(lambda: la.attribute(x), repeats)))
    except ImportError:
        rows.append(("Captum LayerActivation (not installed)", None))

    if torchlens:
        try:
            import torchlens as tl

            rows.append(("TorchLens full trace",
                         median_time(lambda: tl.trace(model, x), max(3, repeats // 5), warmup=1)))
        except ImportError:
            rows.append(("TorchLens (not installed)", None))

    tuned = " (malloc keeps freed memory)" if os.environ.get("MALLOC_TRIM_THRESHOLD_") else ""
    print(f"\n{name} at {size}×{size}, CPU, {torch.get_num_threads()} threads, "
          f"median of {repeats}{tuned}")
    for label, seconds in rows:
        if seconds is None:
            print(f"  {label}")
        else:
            print(f"  {label:<58} {seconds * 1e3:9.1f} ms   {seconds / base:6.2f}x forward")
    ours = rows[1][1]
    lens = next((s for l, s in rows if l.startswith("TorchLens full") and s), None)
    if lens and ours:
        print(f"  TorchLens / actwidgets all-layer capture: {lens / ours:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--skip-vgg", action="store_true")
    parser.add_argument("--skip-torchlens", action="store_true")
    args = parser.parse_args()
    bench("squeezenet", 227, args.repeats, not args.skip_torchlens)
    if os.environ.get("MALLOC_TRIM_THRESHOLD_"):
        return  # the child run below
    if not args.skip_vgg:
        bench("vgg16", 224, max(5, args.repeats // 3), not args.skip_torchlens)
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": str(2**30), "MALLOC_MMAP_THRESHOLD_": str(2**30)}
    subprocess.run([sys.executable, __file__, "--repeats", str(args.repeats), "--skip-vgg",
                    "--skip-torchlens"], env=env, check=True)


if __name__ == "__main__":
    main()
