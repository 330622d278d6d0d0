"""How fast are a layer's concepts over a collection, and is their memory flat? A script that prints, no test.

    PYTHONPATH=. python benchmarks/concepts.py [--images 1000] [--batch-size 32] [--workers 1]
                                               [--device cpu] [--no-solvers] [--only-solvers]
                                               [--no-memory] [--repeats 2]

On SqueezeNet 1.1 (227 px; the real weights where $TORCH_HOME has them, random otherwise),
layer ``fire6-relu_squeeze1x1`` (48 channels, 14×14), six concepts, it prints one table:

(a) time and peak memory (VmHWM, each run in a fresh process) of ``layer_concepts`` over a
    folder of ``--images`` JPEG files (benchmarks/atlas.py's pictures), its top cells'
    receptive fields included, against ``channel_atlas`` of the same layer over the same
    folder (stage post, top 9), ``--repeats`` (2) pairs interleaved, the median pair shown.
    Target: concepts <= 1.5x the scan's time (scikit-learn's solvers run on one BLAS
    thread, ``concepts.work.one_blas_thread``: with two beside torch's, 2.80x). With 1,000 images
    the concepts fit on 50,000 cells from 256 images, then project all 1,000;
(b) peak memory of ``layer_concepts(..., keep_maps=False)`` over a quarter of the images and
    over all of them (generated on the fly, nothing kept): it should be flat;
(c) the solvers, on the cells of 256 generated images (50,176 × 48): the fit by
    scikit-learn's NMF (coordinate descent, what ``layer_concepts`` uses) against a torch
    HALS written here (same nndsvda start, same stopping rule), and the projection of 64
    more images' cells onto fixed loadings by scikit-learn (``concepts.factor.project``:
    ``non_negative_factorization(..., update_H=False)``, what ``NMF.transform`` runs) against
    a torch coordinate descent written here (medians of 5, interleaved): seconds and
    relative error ‖A − WH‖ / ‖A‖.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))
_spec = importlib.util.spec_from_file_location("atlas_bench", _HERE / "atlas.py")
atlas_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(atlas_bench)  # its pictures, folder, model loader and VmHWM reader

import actwidgets as aw  # noqa: E402
from actwidgets.atlas.sources import PreparedImages, collate, collection  # noqa: E402
from actwidgets.concepts import factor  # noqa: E402

LAYER = "fire6-relu_squeeze1x1"
N_CONCEPTS = 6


# ---------------------------------------------------------------------- children (fresh processes)


def child(kind: str, source: str, n: int, args: argparse.Namespace) -> None:
    """Run one measured call; print seconds, peak RSS (MB) and a check value."""
    net = atlas_bench.load(args.device)
    images = atlas_bench.Generated(n) if source == "generated" else source
    start = time.perf_counter()
    if kind == "atlas":
        atlas = aw.channel_atlas(net, images, LAYER, top=9, stage="post", progress=False,
                                 batch_size=args.batch_size, num_workers=args.workers)
        check = f"{atlas.scanned}"
    else:
        c = aw.layer_concepts(net, images, LAYER, n=N_CONCEPTS, top=9, progress=False,
                              batch_size=args.batch_size, num_workers=args.workers,
                              keep_maps=kind == "concepts")
        c.top(0)                    # the receptive field, as the atlas measures it
        check = f"{c.projected}:{c.sample.positions}:{c.sample.images}:{c.explained:.4f}"
    seconds = time.perf_counter() - start
    print(f"{seconds:.2f} {atlas_bench.peak_rss_mb():.1f} {check}")


def run_child(kind: str, source: str, n: int, args: argparse.Namespace) -> tuple[float, float, str]:
    cmd = [sys.executable, __file__, "--child", kind, source, str(n), "--device", args.device,
           "--batch-size", str(args.batch_size), "--workers", str(args.workers)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    return float(out[-3]), float(out[-2]), out[-1]


# ---------------------------------------------------------------------- (c) solvers


def cells(net: aw.Network, images, batch_size: int) -> np.ndarray:
    """(cells, channels) of the layer over ``images``."""
    point = net.layers.get(LAYER).point("post")
    loader = torch.utils.data.DataLoader(PreparedImages(collection(images), net.preprocess),
                                         batch_size=batch_size, collate_fn=collate)
    rows = []
    with torch.no_grad():
        for batch in loader:
            v = net.extractor.run(batch["pixels"], [point], maps=True)[point]
            rows.append(v.permute(0, 2, 3, 1).reshape(-1, v.shape[1]).numpy())
    return np.ascontiguousarray(np.concatenate(rows), dtype=np.float32)


def torch_hals(x: np.ndarray, n: int, seed: int = 0, max_iter: int = factor.MAX_ITER,
               tol: float = 1e-4) -> tuple[np.ndarray, np.ndarray, int]:
    """NMF by hierarchical alternating least squares in torch, from scikit-learn's nndsvda
    start, stopping as scikit-learn's cd solver does (violation below tol × the first)."""
    from sklearn.decomposition._nmf import _initialize_nmf

    w0, h0 = _initialize_nmf(x, n, init="nndsvda", random_state=seed)
    X, W, H = torch.from_numpy(x), torch.from_numpy(w0).float(), torch.from_numpy(h0).float()
    first = None
    for it in range(1, max_iter + 1):  # noqa: B007 - returned after the loop: the sweeps run
        moved = 0.0
        hht, xht = H @ H.T, X @ H.T
        for j in range(n):
            new = (W[:, j] + (xht[:, j] - W @ hht[:, j]) / hht[j, j].clamp_min(1e-12)).clamp_(min=0)
            moved += float((new - W[:, j]).abs().sum())
            W[:, j] = new
        wtw, wtx = W.T @ W, W.T @ X
        for j in range(n):
            new = (H[j] + (wtx[j] - wtw[j] @ H) / wtw[j, j].clamp_min(1e-12)).clamp_(min=0)
            moved += float((new - H[j]).abs().sum())
            H[j] = new
        first = moved if first is None else first
        if moved <= tol * first:
            break
    return W.numpy(), H.numpy(), it


def torch_project(x: np.ndarray, loadings: np.ndarray, sweeps: int = 200,
                  tol: float = 1e-4) -> np.ndarray:
    """The projection in torch, all rows at once: coordinate descent over the concepts from
    the clipped least-squares solution, until no coefficient moves by more than ``tol`` ×
    the largest (the alternative to scikit-learn's, which ``layer_concepts`` uses)."""
    xt, h = torch.from_numpy(x), torch.from_numpy(loadings)
    gram, b = h @ h.T, xt @ h.T
    w = (b @ torch.linalg.pinv(gram)).clamp_(min=0)
    diag = gram.diagonal().clone().clamp_(min=1e-12)
    for _ in range(sweeps):
        moved = 0.0
        for j in range(w.shape[1]):
            new = (w[:, j] - (w @ gram[:, j] - b[:, j]) / diag[j]).clamp_(min=0)
            moved = max(moved, float((new - w[:, j]).abs().max()))
            w[:, j] = new
        if moved <= tol * max(float(w.max()), 1e-12):
            break
    return w.numpy()


def solvers(args: argparse.Namespace, rows: list) -> None:
    net = atlas_bench.load(args.device)
    gen = atlas_bench.Generated(320)
    x = cells(net, [gen[i] for i in range(256)], args.batch_size)
    y = cells(net, [gen[i] for i in range(256, 320)], args.batch_size)
    norm_x, norm_y = np.linalg.norm(x), np.linalg.norm(y)
    start = time.perf_counter()
    f = factor.fit(x, N_CONCEPTS, seed=0)
    t_sk = time.perf_counter() - start
    start = time.perf_counter()
    w, h, iters = torch_hals(x, N_CONCEPTS)
    t_torch = time.perf_counter() - start
    err_torch = np.linalg.norm(x - w @ h) / norm_x
    rows.append((f"(c) fit {x.shape[0]}x{x.shape[1]}, scikit-learn cd, s", f"{t_sk:.2f}",
                 f"rel. error {1 - f.explained:.4f}, {f.iterations} iterations"))
    rows.append(("(c) fit, torch HALS, s", f"{t_torch:.2f}",
                 f"rel. error {err_torch:.4f}, {iters} iterations"))
    t_sk, t_ours = [], []
    for _ in range(5):              # interleaved, medians: a busy machine is noisy
        start = time.perf_counter()
        w_sk = factor.project(y, f.loadings)    # scikit-learn's, with the loadings fixed
        t_sk.append(time.perf_counter() - start)
        start = time.perf_counter()
        w_ours = torch_project(y, f.loadings)
        t_ours.append(time.perf_counter() - start)
    t_sk, t_ours = statistics.median(t_sk), statistics.median(t_ours)
    e_sk = np.linalg.norm(y - w_sk @ f.loadings) / norm_y
    e_ours = np.linalg.norm(y - w_ours @ f.loadings) / norm_y
    rows.append((f"(c) project {y.shape[0]} cells, scikit-learn (factor.project), s",
                 f"{t_sk:.3f}", f"rel. error {e_sk:.5f}"))
    rows.append(("(c) project, torch coordinate descent, s", f"{t_ours:.3f}",
                 f"rel. error {e_ours:.5f}"))


# ---------------------------------------------------------------------- the table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-solvers", action="store_true")
    parser.add_argument("--only-solvers", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, source, n = args.child
        return child(kind, source, int(n), args)
    rows = atlas_bench.Rows()
    if args.only_solvers:
        return solvers(args, rows)
    n = args.images
    print(f"SqueezeNet 1.1, {LAYER}, {N_CONCEPTS} concepts, {n} JPEG files, batch "
          f"{args.batch_size}, {args.workers} DataLoader worker(s), torch threads "
          f"{torch.get_num_threads()}, device {args.device}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        atlas_bench.write_folder(folder, n)
        pairs = [(run_child("atlas", str(folder), n, args),
                  run_child("concepts", str(folder), n, args)) for _ in range(args.repeats)]
    ratios = [c[0] / a[0] for a, c in pairs]
    (a_t, a_mb, _), (c_t, c_mb, check) = pairs[int(np.argsort(ratios)[len(ratios) // 2])]
    projected, positions, fitted, explained = check.split(":")
    rows.append((f"(a) channel_atlas, {n} images, s", f"{a_t:.1f}", f"peak RSS {a_mb:.0f} MB"))
    rows.append((f"(a) layer_concepts, {n} images, s", f"{c_t:.1f}",
                 f"peak RSS {c_mb:.0f} MB; fitted on {positions} cells of {fitted} images, "
                 f"{projected} projected, explained {explained}"))
    rows.append(("(a) concepts / atlas time", f"{c_t / a_t:.2f}x",
                 "target <= 1.5x; pairs: " + ", ".join(f"{r:.2f}" for r in ratios)))
    rows.append(("(a) concepts / atlas peak memory", f"{c_mb / a_mb:.2f}x", ""))
    peaks = []
    for count in () if args.no_memory else (n // 4, n):
        t, mb, _ = run_child("bare", "generated", count, args)
        peaks.append(mb)
        rows.append((f"(b) keep_maps=False, {count} images, peak RSS MB", f"{mb:.0f}", f"{t:.1f} s"))
    if peaks:
        rows.append(("(b) peak RSS, all / a quarter", f"{peaks[1] / peaks[0]:.2f}x", "flat: ~1.0x"))
    if not args.no_solvers:
        solvers(args, rows)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{width}}  {'value':>8}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>8}  {note}")


if __name__ == "__main__":
    main()
