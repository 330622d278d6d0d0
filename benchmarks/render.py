"""Latency of the explorer's interactions from cached activations, beside matplotlib.

A script that prints, not a test::

    TORCH_HOME=$PWD/../shared/torch-home PYTHONPATH=. python benchmarks/render.py

For each interaction it times the bare render (numpy → PNG bytes with
:mod:`actwidgets.pixels`) and the whole headless widget path (set ``explorer.channel = k`` and
read ``explorer.png``; in a browser the explorer's page draws flips itself:
``benchmarks/frontend.py``), medians of many runs, with the activations already
cached (no forward pass is timed). Beside them: the matplotlib equivalents that the
walkthroughs and most tutorials use (``imshow`` into a new figure saved as PNG, an 8×8
``subplot`` grid saved as PNG, an ``imshow`` overlay), and the ratios.

Targets on a 2-core CPU: channel change ≤ 5 ms, 64-channel grid ≤ 25 ms, and at least
20× faster than the matplotlib subplot grid.

Last, the PNG encoders side by side on the same pictures: Pillow as :func:`actwidgets.pixels.to_png`
calls it, Pillow with zlib's default strategy, and the hand-written encoder that Pillow replaced
(kept here only for the comparison: Up filter on every row, zlib level 1 with run-length
matching, large images compressed in two threads). ``--png-only`` runs just that part.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import struct
import sys
import time
import warnings
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # this script only: the package itself never sets a backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import actwidgets as aw  # noqa: E402
from actwidgets import pixels  # noqa: E402

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
    """Time from ``explorer.channel = k`` until ``explorer.png`` holds the new picture (the
    headless path: in a browser the page draws the flip itself, see benchmarks/frontend.py)."""
    times = []
    k = explorer.channel
    for i in range(repeat + 3):
        k = (k + 1) % channels
        before = explorer.png
        t0 = time.perf_counter()
        explorer.channel = k
        after = explorer.png
        t1 = time.perf_counter()
        if after == before:
            raise RuntimeError(f"channel {k}: the picture did not change ({explorer.error})")
        if i >= 3:
            times.append(t1 - t0)
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
    for ax, ch in zip(axes.flat, acts[:64], strict=False):  # fewer than 64 channels: empty cells
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


# --------------------------------------------------------------------------- PNG encoders

PNG_SPEEDUP_TO_KEEP_OWN = 1.5  # the hand-written encoder stays only if at least this much faster


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _deflate(raw: np.ndarray, pool: ThreadPoolExecutor | None) -> bytes:
    """The replaced encoder's zlib stream: level 1, run-length matching, two halves in parallel
    above 256 KiB (a raw deflate stream each, joined by a sync flush) unless ``pool`` is None."""
    buf = np.ascontiguousarray(raw).reshape(-1).data
    n = len(buf)
    if n < 1 << 18 or pool is None:
        c = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
        return c.compress(buf) + c.flush()

    def part(lo: int, hi: int, last: bool) -> bytes:
        c = zlib.compressobj(1, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
        return c.compress(buf[lo:hi]) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    second = pool.submit(part, n // 2, n, True)
    first = part(0, n // 2, False)
    return b"\x78\x01" + first + second.result() + struct.pack(">I", zlib.adler32(buf))


def own_png(picture: pixels.Indexed | np.ndarray, pool: ThreadPoolExecutor | None) -> bytes:
    """PNG bytes from the hand-written encoder that ``pixels.to_png`` replaced (Up filter)."""
    if isinstance(picture, pixels.Indexed):
        rows, color_type, plte = picture.index, 3, _chunk(b"PLTE", picture.palette.tobytes())
    else:
        rows, color_type, plte = picture, 0 if picture.ndim == 2 else {3: 2, 4: 6}[picture.shape[2]], b""
    h, w = rows.shape[:2]
    rows = np.ascontiguousarray(rows).reshape(h, -1)
    filtered = np.empty((h, rows.shape[1] + 1), np.uint8)
    filtered[:, 0] = 2  # filter type Up: each byte minus the byte above (mod 256)
    filtered[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=filtered[1:, 1:])
    head = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", head), plte,
                     _chunk(b"IDAT", _deflate(filtered, pool)), _chunk(b"IEND", b"")])


def pillow_png(picture: pixels.Indexed | np.ndarray, strategy: int) -> bytes:
    buf = io.BytesIO()
    pixels.to_pil(picture).save(buf, "PNG", compress_level=pixels.png.COMPRESS_LEVEL, compress_type=strategy)
    return buf.getvalue()


def png_comparison(pictures: dict[str, pixels.Indexed | np.ndarray], repeat: int) -> None:
    """Time the encoders on the same pictures, interleaved run by run; check they round-trip.

    The verdict is taken on the first two pictures (the SqueezeNet conv1 grid and one channel)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        encoders = {
            "Pillow: to_png": pixels.to_png,
            "Pillow, Z_RLE": lambda p: pillow_png(p, zlib.Z_RLE),
            "Pillow, default strategy": lambda p: pillow_png(p, zlib.Z_DEFAULT_STRATEGY),
            "own (replaced)": lambda p: own_png(p, pool),
            "own, one thread": lambda p: own_png(p, None),
        }
        print(f"PNG encoders on the same pictures, interleaved: median / best of {repeat} runs, bytes")
        print(f"{'picture':<36}" + "".join(f"{name:>27}" for name in encoders) + f"{'own faster':>11}")
        worst = math.inf
        for row, (label, picture) in enumerate(pictures.items()):
            expected = np.asarray(picture)
            for encode in encoders.values():
                with Image.open(io.BytesIO(encode(picture))) as im:
                    decoded = np.asarray(im.convert(im.mode.replace("P", "RGB")))
                    np.testing.assert_array_equal(decoded, expected)
            times: dict[str, list[float]] = {name: [] for name in encoders}
            for _ in range(repeat + 3):
                for name, encode in encoders.items():
                    t0 = time.perf_counter()
                    encode(picture)
                    times[name].append(time.perf_counter() - t0)
            stats = {name: _timing(ts[3:]) for name, ts in times.items()}
            sizes = {name: len(encode(picture)) for name, encode in encoders.items()}
            cells = [f"{stats[k].median:6.2f}/{stats[k].best:5.2f} ms {sizes[k] / 1024:4.0f} KiB"
                     for k in encoders]
            ratio = stats["Pillow: to_png"].median / stats["own (replaced)"].median
            worst = min(worst, ratio) if row < 2 else worst
            print(f"{label:<36}" + "".join(f"{c:>27}" for c in cells) + f"{ratio:10.2f}×")
    keep = worst >= PNG_SPEEDUP_TO_KEEP_OWN
    print("to_png uses zlib's default strategy where many rows repeat (enlarged tiles), else Z_RLE.")
    print(f"own encoder vs to_png on the first two pictures: at most {worst:.2f}× as fast; "
          f"{'KEEP the own encoder' if keep else 'Pillow stays'} (the bar is {PNG_SPEEDUP_TO_KEEP_OWN}×)")


# --------------------------------------------------------------------------- main


class Row(NamedTuple):
    name: str
    bare: Timing  # numpy → PNG bytes
    widget: Timing  # from `explorer.channel = k` until the picture's bytes changed
    mpl: Timing | None  # the matplotlib equivalent


def measure(squeeze: aw.Network, vgg: aw.Network, face: np.ndarray, n: int,
            n_mpl: int) -> tuple[list[Row], dict]:
    """Time every interaction, bare and through the widget, beside matplotlib."""
    # Explorers, activations cached by their first render.
    sq_grid = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="grid")
    sq_chan = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="channel")
    sq_over = aw.ActivationExplorer(squeeze, {"face": face}, layer="conv1", view="overlay", cmap="jet")
    vgg_grid = aw.ActivationExplorer(vgg, {"face": face}, layer="block5_conv3", view="grid")
    acts, vacts, picture = sq_grid.activations, vgg_grid.activations, sq_grid.picture
    size = squeeze.input_size
    c_sq, c_vgg = acts.shape[0], vacts.shape[0]
    rows = [
        Row(f"channel change, one channel at image size ({size[0]}×{size[1]})",
            timed(lambda i: pixels.to_png(pixels.render_channel(acts[i % c_sq], size=size, cmap="gray")), n),
            widget_timed(sq_chan, c_sq, n),
            timed(lambda i: mpl_channel(acts[i % c_sq], size), n_mpl, warmup=2)),
        Row(f"grid, SqueezeNet conv1 ({c_sq} ch, {acts.shape[1]}×{acts.shape[2]})",
            timed(lambda i: pixels.to_png(pixels.render_grid(acts, selected=i % c_sq)), n),
            widget_timed(sq_grid, c_sq, n),
            timed(lambda i: mpl_grid(acts), n_mpl, warmup=1)),
        Row(f"grid, VGG16 block5_conv3 ({c_vgg} ch, {vacts.shape[1]}×{vacts.shape[2]})",
            timed(lambda i: pixels.to_png(pixels.render_grid(vacts, selected=i % c_vgg)), n),
            widget_timed(vgg_grid, c_vgg, n), None),
        Row(f"overlay, SqueezeNet conv1 over the {size[0]}×{size[1]} image",
            timed(lambda i: pixels.to_png(pixels.overlay(picture, acts[i % c_sq], cmap="jet")), n),
            widget_timed(sq_over, c_sq, n),
            timed(lambda i: mpl_overlay(picture, acts[i % c_sq]), n_mpl, warmup=2)),
    ]
    return rows, {"acts": acts, "vacts": vacts, "picture": picture}


def print_rows(rows: list[Row], pretrained: bool, n: int, n_mpl: int) -> None:
    load = os.getloadavg()
    print(f"actwidgets render benchmark · {os.cpu_count()} CPUs (load average "
          f"{', '.join(f'{v:.1f}' for v in load)}) · medians of {n} runs (matplotlib: {n_mpl}) · "
          "activations cached")
    print(f"SqueezeNet: {'pretrained' if pretrained else 'RANDOM'} weights; VGG16: random weights")
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
    print("render: numpy → PNG bytes alone; widget: from `explorer.channel = k` until")
    print("`explorer.png` holds the new picture; (best): the widget path's fastest run.")
    print("matplotlib: imshow of one channel into a new figure saved as PNG; an 8×8 plt.subplots")
    print("grid of the 64 channels saved as PNG; imshow of the image and the channel (jet, alpha 0.5)")
    print("saved as PNG.")
    print("'× faster' = matplotlib / widget path (medians).")
    if load[0] > (os.cpu_count() or 1):
        print(f"NOTE: the load average ({load[0]:.1f}) exceeds the CPU count: other processes "
              "competed, so the medians are inflated; (best) shows the uncontended cost.")
    print()


def print_checks(rows: list[Row]) -> None:
    chan, grid = rows[0], rows[1]
    checks = [
        ("channel change ≤ 5 ms (widget path)", chan.widget.median <= TARGET_CHANNEL_MS,
         f"{chan.widget.median:.2f} ms (best {chan.widget.best:.2f})"),
        ("64-channel grid ≤ 25 ms (render)", grid.bare.median <= TARGET_GRID_MS,
         f"{grid.bare.median:.2f} ms (best {grid.bare.best:.2f})"),
        ("64-channel grid ≤ 25 ms (widget path)", grid.widget.median <= TARGET_GRID_MS,
         f"{grid.widget.median:.2f} ms (best {grid.widget.best:.2f})"),
        ("≥ 20× faster than the matplotlib subplot grid (widget path)",
         grid.mpl.median / grid.widget.median >= TARGET_SPEEDUP,
         f"{grid.mpl.median / grid.widget.median:.0f}×"),
    ]
    for text, ok, value in checks:
        print(f"{'PASS' if ok else 'MISS'}  {text}: {value}")


def print_grid_breakdown(acts: np.ndarray, n: int) -> None:
    """Where the grid's time goes (the stages in actwidgets.pixels), to point at what to speed up."""
    c = acts.shape[0]
    grid_rgb = pixels.render_grid(acts, selected=0)
    t_render = timed(lambda i: pixels.render_grid(acts, selected=i % c), n)
    t_png = timed(lambda i: pixels.to_png(grid_rgb), n)
    t_norm = timed(lambda i: pixels.normalize_channels(acts), n)
    print()
    print(f"grid breakdown (SqueezeNet conv1, {grid_rgb.shape[1]}×{grid_rgb.shape[0]} px), "
          f"median (best): render_grid {t_render.median:.2f} ({t_render.best:.2f}) ms, of which "
          f"normalize ≈ {t_norm.median:.2f} ms; to_png {t_png.median:.2f} ({t_png.best:.2f}) ms; "
          f"PNG {len(pixels.to_png(grid_rgb)) / 1024:.0f} KiB")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=60, help="runs per fast measurement")
    parser.add_argument("--repeat-mpl", type=int, default=8, help="runs per matplotlib measurement")
    parser.add_argument("--png-only", action="store_true", help="only compare the PNG encoders")
    args = parser.parse_args()
    n, n_mpl = args.repeat, args.repeat_mpl

    try:
        squeeze = aw.load_model("squeezenet")
    except aw.WeightsUnavailableError:
        warnings.warn("no SqueezeNet weights here: timing with random weights", stacklevel=1)
        squeeze = aw.load_model("squeezenet", weights=None)
    vgg = aw.load_model("vgg16", weights=None)  # no VGG16 weights here; timing is the same
    face = aw.sample_image("face")
    if args.png_only:
        acts, vacts = aw.activations(squeeze, face, "conv1"), aw.activations(vgg, face, "block5_conv3")
        png_comparison(_png_pictures(acts, vacts, squeeze.image(face)), n)
        return
    rows, arrays = measure(squeeze, vgg, face, n, n_mpl)
    print_rows(rows, squeeze.pretrained, n, n_mpl)
    print_checks(rows)
    print_grid_breakdown(arrays["acts"], n)
    png_comparison(_png_pictures(arrays["acts"], arrays["vacts"], arrays["picture"]), n)


def _png_pictures(acts: np.ndarray, vacts: np.ndarray, picture: np.ndarray) -> dict[str, object]:
    return {
        f"grid, SqueezeNet conv1 ({acts.shape[0]} ch)": pixels.render_grid(acts, selected=0),
        "one channel at image size": pixels.render_channel(acts[0], size=picture.shape[:2], cmap="gray"),
        f"grid, VGG16 block5_conv3 ({vacts.shape[0]} ch)": pixels.render_grid(vacts, selected=0),
        "overlay (RGB)": pixels.overlay(picture, acts[0], cmap="jet"),
    }


if __name__ == "__main__":
    main()
