"""How fast is the channel atlas, and is its memory flat? A script that prints; not a test.

    PYTHONPATH=. python benchmarks/atlas.py [--images 128] [--batch-size 32] [--workers 1]
                                            [--repeats 2] [--device cpu] [--threads 0] [--no-ray]

On SqueezeNet 1.1 (227 px; the real weights where $TORCH_HOME has them, random otherwise:
the timings do not depend on the weights) it prints one table:

(a) throughput: images per second of ``channel_atlas`` over a folder of JPEG files (five
    layers from conv1 to conv10, both stages, top 9 by max and mean) against plain batched
    inference, ``net.model(x)`` under ``torch.no_grad()``, over the same ``DataLoader`` (same
    dataset, batch size and workers). Target: >= 0.85x. The pair runs ``--repeats`` times,
    interleaved, after a warm-up scan (the one-time setup, receptive fields and fingerprint,
    is timed apart); the figure is the median ratio;
(b) peak memory (the process's peak RSS, VmHWM) of a scan of 64, 256 and 1024 generated images
    (an on-the-fly ``Dataset``, 112 px), each in a fresh process: it should be flat, since
    the atlas keeps layers × channels × k entries whatever the number of images;
(c) the Ray engine (``engine="ray"``, one actor) on a local 2-CPU Ray instance against the
    local scan of the same folder: Ray's start, the scan's time, and whether the atlases
    agree (on 2 cores expect no speed-up: Ray's workers compete with the driver).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)

import actwidgets as aw  # noqa: E402
from actwidgets.atlas.sources import PreparedImages, collate, collection  # noqa: E402

LAYERS = ["conv1", "fire2-concat", "fire5-concat", "fire9-expand3x3", "conv10"]


def load(device: str, size: int | None = None) -> aw.Network:
    try:
        return aw.load_model("squeezenet", input_size=size, device=device)
    except aw.WeightsUnavailableError:
        return aw.load_model("squeezenet", weights=None, input_size=size, device=device)


class Generated(torch.utils.data.Dataset):
    """``n`` pictures made on the fly: crops of scikit-image photos, nothing kept."""

    def __init__(self, n: int) -> None:
        from skimage import data

        self.n, self.photos = n, [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        rng = np.random.default_rng(i)
        photo = self.photos[i % len(self.photos)]
        h, w = photo.shape[:2]
        y, x = rng.integers(0, h // 3), rng.integers(0, w // 3)
        return photo[y:y + 2 * h // 3, x:x + 2 * w // 3]


def write_folder(root: Path, n: int) -> None:
    gen = Generated(n)
    for i in range(n):
        Image.fromarray(gen[i]).save(root / f"{i:05d}.jpg", quality=90)


# ---------------------------------------------------------------------- (a) throughput


def plain_inference(net: aw.Network, folder: Path, batch_size: int, workers: int) -> float:
    """Seconds for net.model over the atlas' own DataLoader (the images it reads and prepares)."""
    loader = torch.utils.data.DataLoader(PreparedImages(collection(folder), net.preprocess),
                                         batch_size=batch_size, num_workers=workers,
                                         collate_fn=collate)
    start = time.perf_counter()
    with torch.no_grad():
        for batch in loader:
            net.model(batch["pixels"].to(net.device))
    if net.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def scan(net: aw.Network, folder: Path, batch_size: int, workers: int,
         **kwargs) -> tuple[float, aw.ChannelAtlas]:
    start = time.perf_counter()
    atlas = aw.channel_atlas(net, folder, LAYERS, score=("max", "mean"), batch_size=batch_size,
                             num_workers=workers, progress=False, **kwargs)
    return time.perf_counter() - start, atlas


def throughput(args, folder: Path, rows: list) -> aw.ChannelAtlas:
    net = load(args.device)
    setup, atlas = scan(net, folder, args.batch_size, args.workers)      # warm-up: fields cached
    ratios, plain_t, atlas_t, cpu_ratios = [], [], [], []
    for _ in range(args.repeats):
        c0 = time.process_time()
        p = plain_inference(net, folder, args.batch_size, args.workers)
        c1 = time.process_time()
        a, atlas = scan(net, folder, args.batch_size, args.workers)
        c2 = time.process_time()
        plain_t.append(p)
        atlas_t.append(a)
        ratios.append(p / a)
        cpu_ratios.append((c1 - c0) / (c2 - c1))  # this process's CPU: steadier on a busy machine
    n = args.images
    rows.append(("(a) plain inference, img/s", f"{n / statistics.median(plain_t):.1f}", ""))
    rows.append(("(a) channel_atlas scan, img/s", f"{n / statistics.median(atlas_t):.1f}",
                 f"{len(LAYERS)} layers, both stages, max+mean, top 9"))
    rows.append(("(a) atlas / plain throughput", f"{statistics.median(ratios):.2f}x",
                 "target >= 0.85x; " + ", ".join(f"{r:.2f}" for r in ratios)))
    rows.append(("(a) same, by this process's CPU time", f"{statistics.median(cpu_ratios):.2f}x",
                 "decoding in the workers not counted; " + ", ".join(f"{r:.2f}" for r in cpu_ratios)))
    rows.append(("(a) first scan incl. setup, s", f"{setup:.1f}",
                 f"receptive fields + fingerprint + scan; later scans {statistics.median(atlas_t):.1f} s"))
    return atlas


# ---------------------------------------------------------------------- (b) memory


def child_memory(n: int, device: str) -> None:
    """In a fresh process: scan ``n`` generated images; print peak RSS (MB) and atlas bytes."""
    net = load(device, size=112)
    atlas = aw.channel_atlas(net, Generated(n), LAYERS, score=("max", "mean"), batch_size=32,
                             progress=False)
    print(f"{peak_rss_mb():.1f} {atlas.nbytes} {atlas.scanned}")


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (ru_maxrss would include the parent's, as
    Linux keeps it across fork and exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory(args, rows: list) -> None:
    peaks = []
    for n in (64, 256, 1024):
        out = subprocess.run([sys.executable, __file__, "--child-memory", str(n), "--device", args.device],
                             capture_output=True, text=True, check=True)
        peak, nbytes, scanned = out.stdout.split()[-3:]
        peaks.append(float(peak))
        rows.append((f"(b) peak RSS, {n} images, MB", f"{float(peak):.0f}",
                     f"atlas arrays {int(nbytes) / 1e6:.2f} MB; {scanned} scanned"))
    rows.append(("(b) peak RSS 1024 / 64 images", f"{peaks[-1] / peaks[0]:.2f}x", "flat: ~1.0x"))


# ---------------------------------------------------------------------- (c) Ray


def on_ray(args, folder: Path, local: aw.ChannelAtlas, rows: list) -> None:
    try:
        import ray
    except ImportError:
        rows.append(("(c) Ray engine", "-", 'not installed: pip install -e ".[scale]"'))
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_enable_metrics_collection", "0")
    start = time.perf_counter()
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # Ray gives its raylet 30 s to start: a busy machine misses it
        rows.append(("(c) ray.init(num_cpus=2)", "failed", str(exc).splitlines()[0][:70]))
        return
    started = time.perf_counter() - start
    net = load(args.device)
    local_t, local = scan(net, folder, args.batch_size, args.workers)
    first, atlas = scan(net, folder, args.batch_size, 0, engine="ray", actors=1)
    again, atlas = scan(net, folder, args.batch_size, 0, engine="ray", actors=1)
    ray.shutdown()
    same = all(np.array_equal(atlas._tables[k]["index"], local._tables[k]["index"]) for k in local._tables)
    close = max(float(np.nanmax(np.abs(atlas._tables[k]["max"] - local._tables[k]["max"])))
                for k in local._tables)
    n = args.images
    rows.append(("(c) ray.init(num_cpus=2), s", f"{started:.1f}", "once per session"))
    rows.append(("(c) local scan, img/s", f"{n / local_t:.1f}", ""))
    rows.append(("(c) Ray scan, img/s", f"{n / again:.1f}",
                 f"1 actor + reading tasks; first run {first:.1f} s (actor start)"))
    rows.append(("(c) Ray / local throughput", f"{local_t / again:.2f}x",
                 f"same indices: {same}; max |score diff| {close:.1e}"))


class Rows(list):
    """The table's rows, each also printed as it comes (a long run shows its progress)."""

    def append(self, row: tuple) -> None:
        super().append(row)
        print("  " + "  ".join(row), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (0: torch's default); 1 with --workers 0 makes the "
                             "CPU-time ratio count all the work, decoding too, without spin-waits")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--child-memory", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        return child_memory(args.child_memory, args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = Rows()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_folder(folder, args.images)
        print(f"SqueezeNet 1.1, {args.images} JPEG files, batch {args.batch_size}, "
              f"{args.workers} DataLoader worker(s), torch threads {torch.get_num_threads()}, "
              f"device {args.device}", flush=True)
        local = throughput(args, folder, rows)
        if not args.no_memory:
            memory(args, rows)
        if not args.no_ray:
            on_ray(args, folder, local, rows)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':>8}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>8}  {note}")


if __name__ == "__main__":
    main()
