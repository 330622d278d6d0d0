"""Latency of the explorer's interactions from cached activations, beside matplotlib.

A script that prints, not a test::

    TORCH_HOME=$PWD/../shared/torch-home PYTHONPATH=. python benchmarks/render.py

For each interaction it times the bare render (numpy → PNG bytes with
:mod:`actwidgets.render`) and the whole widget path (set ``explorer.channel = k`` and wait
until the picture's bytes change), medians of many runs, with the activations already
cached (no forward pass is timed). Beside them: the matplotlib equivalents that the
walkthroughs and most tutorials use (``imshow`` into a new figure saved as PNG, an 8×8
``subplot`` grid saved as PNG, an ``imshow`` overlay), and the ratios.

Targets on a 2-core CPU: channel change ≤ 5 ms, 64-channel grid ≤ 25 ms, and at least
20× faster than the matplotlib subplot grid.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # this script only: the package itself never sets a backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import actwidgets as aw  # noqa: E402
from actwidgets import render  # noqa: E402

TARGET_CHANNEL_MS = 5.0
TARGET_GRID_MS = 25.0
TARGET_SPEEDUP = 20.0


class Timing(NamedTuple):
    median: float  # ms
    best: float  # ms: the fastest run, what the code costs when nothing else competes


def _timing(times: list[float]) -> Timing:
    return Timing(statistics.median(times) * 1e3, min(times) * 1e3)


def timed(fn: Callable[[int], object], repeat: int, warmup: int = 3) -> Timing:
    for i in range(warmup):
        fn(i)
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return _timing(times)


def widget_timed(explorer: aw.ActivationExplorer, channels: int, repeat: int) -> Timing:
    """Time from ``explorer.channel = k`` until the picture's bytes have changed."""
    picture = explorer._picture  # the one widgets.Image the explorer writes
    stamp: list[float] = []
    picture.observe(lambda change: stamp.append(time.perf_counter()), "value")
    times = []
    k = explorer.channel
    for i in range(repeat + 3):
        k = (k + 1) % channels
        before = picture.value
        stamp.clear()
        t0 = time.perf_counter()
        explorer.channel = k
        if not stamp or picture.value == before:
            raise RuntimeError(f"channel {k}: the picture did not change ({explorer.error})")
        if i >= 3:
            times.append(stamp[-1] - t0)
    return _timing(times)


# --------------------------------------------------------------------------- matplotlib


def _savefig(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def mpl_channel(channel: np.ndarray, size: tuple[int, int]) -> bytes:
    fig = plt.figure(figsize=(size[1] / 100, size[0] / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(channel, cmap="gray")
    ax.axis("off")
    return _savefig(fig)


def mpl_grid(acts: np.ndarray) -> bytes:
    fig, axes = plt.subplots(8, 8, figsize=(9, 9), dpi=100)
    for ax, ch in zip(axes.flat, acts[:64]):
        ax.imshow(ch, cmap="gray")
        ax.axis("off")
    return _savefig(fig)


def mpl_overlay(picture: np.ndarray, channel: np.ndarray) -> bytes:
    h, w = picture.shape[:2]
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(picture)
    ax.imshow(channel, cmap="jet", alpha=0.5, extent=(0, w, h, 0))
    ax.axis("off")
    return _savefig(fig)


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="runs per fast measurement")
    parser.add_argument("--repeat-mpl", type=int, default=8, help="runs per matplotlib measurement")
    args = parser.parse_args()
    n, n_mpl = args.repeat, args.repeat_mpl

    try:
        squeeze = aw.load_model("squeezenet")
    except aw.WeightsUnavailableError:
        warnings.warn("no SqueezeNet weights here: timing with random weights", stacklevel=1)
        squeeze = aw.load_model("squeezenet", weights=None)
    vgg = aw.load_model("vgg16", weights=None)  # no VGG16 weights here; timing is the same
    face = aw.sample_image("face")

    # Explorers, activations cached by their first render.
    sq_grid = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="grid")
    sq_chan = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="channel")
    sq_over = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="overlay", cmap="jet")
    vgg_grid = aw.ActivationExplorer(vgg, {"face": face}, layer="block5_conv3", view="grid")
    acts = sq_grid.activations
    vacts = vgg_grid.activations
    picture = sq_grid.picture
    size = squeeze.input_size
    c_sq, c_vgg = acts.shape[0], vacts.shape[0]

    def bare(fn: Callable[[int], bytes]) -> Timing:
        return timed(fn, n)

    chan_bare = bare(lambda i: render.to_png(render.render_channel(acts[i % c_sq], size=size, cmap="gray")))
    chan_widget = widget_timed(sq_chan, c_sq, n)
    grid_bare = bare(lambda i: render.to_png(render.render_grid(acts, selected=i % c_sq)))
    grid_widget = widget_timed(sq_grid, c_sq, n)
    vgrid_bare = bare(lambda i: render.to_png(render.render_grid(vacts, selected=i % c_vgg)))
    vgrid_widget = widget_timed(vgg_grid, c_vgg, n)
    over_bare = bare(lambda i: render.to_png(render.render_overlay(picture, acts[i % c_sq], cmap="jet")))
    over_widget = widget_timed(sq_over, c_sq, n)

    mpl_chan = timed(lambda i: mpl_channel(acts[i % c_sq], size), n_mpl, warmup=2)
    mpl_sub = timed(lambda i: mpl_grid(acts), n_mpl, warmup=1)
    mpl_over = timed(lambda i: mpl_overlay(picture, acts[i % c_sq]), n_mpl, warmup=2)

    rows = [
        (f"channel change, one channel at image size ({size[0]}×{size[1]})", chan_bare, chan_widget, mpl_chan),
        (f"grid, SqueezeNet conv1 ({c_sq} ch, {acts.shape[1]}×{acts.shape[2]})", grid_bare, grid_widget, mpl_sub),
        (f"grid, VGG16 block5_conv3 ({c_vgg} ch, {vacts.shape[1]}×{vacts.shape[2]})", vgrid_bare, vgrid_widget, None),
        (f"overlay, SqueezeNet conv1 over the {size[0]}×{size[1]} image", over_bare, over_widget, mpl_over),
    ]

    load = os.getloadavg()
    print(f"actwidgets render benchmark · {os.cpu_count()} CPUs (load average "
          f"{', '.join(f'{v:.1f}' for v in load)}) · medians of {n} runs (matplotlib: {n_mpl}) · "
          "activations cached")
    print(f"SqueezeNet: {'pretrained' if squeeze.pretrained else 'RANDOM'} weights; VGG16: random weights")
    print()
    head = (f"{'interaction':<58} {'render':>8} {'widget':>8} {'(best)':>8} "
            f"{'matplotlib':>10} {'× faster':>8}")
    print(head)
    print("-" * len(head))
    for name, b, w, m in rows:
        mtext = f"{m.median:8.1f}ms" if m is not None else f"{'-':>10}"
        ratio = f"{m.median / w.median:7.0f}×" if m is not None else f"{'-':>8}"
        print(f"{name:<58} {b.median:6.2f}ms {w.median:6.2f}ms {w.best:6.2f}ms {mtext} {ratio}")
    print()
    print("render: numpy → PNG bytes alone; widget: from `explorer.channel = k` until the")
    print("picture's bytes changed; (best): the widget path's fastest run. matplotlib: imshow of")
    print("one channel into a new figure saved as PNG; an 8×8 plt.subplots grid of the 64 channels")
    print("saved as PNG; imshow of the image and the channel (jet, alpha 0.5) saved as PNG.")
    print("'× faster' = matplotlib / widget path (medians).")
    if load[0] > (os.cpu_count() or 1):
        print(f"NOTE: the load average ({load[0]:.1f}) exceeds the CPU count: other processes "
              "competed, so the medians are inflated; (best) shows the uncontended cost.")
    print()

    checks = [
        ("channel change ≤ 5 ms (widget path)", chan_widget.median <= TARGET_CHANNEL_MS,
         f"{chan_widget.median:.2f} ms (best {chan_widget.best:.2f})"),
        ("64-channel grid ≤ 25 ms (render)", grid_bare.median <= TARGET_GRID_MS,
         f"{grid_bare.median:.2f} ms (best {grid_bare.best:.2f})"),
        ("64-channel grid ≤ 25 ms (widget path)", grid_widget.median <= TARGET_GRID_MS,
         f"{grid_widget.median:.2f} ms (best {grid_widget.best:.2f})"),
        ("≥ 20× faster than the matplotlib subplot grid (widget path)",
         mpl_sub.median / grid_widget.median >= TARGET_SPEEDUP,
         f"{mpl_sub.median / grid_widget.median:.0f}×"),
    ]
    for text, ok, value in checks:
        print(f"{'PASS' if ok else 'MISS'}  {text}: {value}")

    # Where the grid's time goes (render.py's stages), to point at what to speed up.
    grid_rgb = render.render_grid(acts, selected=0)
    t_render = timed(lambda i: render.render_grid(acts, selected=i % c_sq), n)
    t_png = timed(lambda i: render.to_png(grid_rgb), n)
    t_norm = timed(lambda i: render.normalize(acts), n)
    print()
    print(f"grid breakdown (SqueezeNet conv1, {grid_rgb.shape[1]}×{grid_rgb.shape[0]} px), "
          f"median (best): render_grid {t_render.median:.2f} ({t_render.best:.2f}) ms, of which "
          f"normalize ≈ {t_norm.median:.2f} ms; to_png {t_png.median:.2f} ({t_png.best:.2f}) ms; "
          f"PNG {len(render.to_png(grid_rgb)) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
