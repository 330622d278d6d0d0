"""Peak memory and wall time of every tutorial notebook, each in a fresh kernel.

    python benchmarks/memory.py                 # all notebooks in notebooks/
    python benchmarks/memory.py 01 03           # those whose name starts with 01 or 03
    python benchmarks/memory.py --self-check    # first prove the method sees a 500 MB cell

Each notebook is executed by ``jupyter nbconvert --to notebook --execute`` in a child
process (the output goes to a temporary folder; the notebooks are not touched). The kernel
is that child's child. Two measurements of its peak resident memory:

- ``wait4``: the rusage that ``os.wait4`` returns for the nbconvert child. On Linux its
  ``ru_maxrss`` is the largest peak RSS of that child and of every descendant it waited for,
  which includes the kernel (jupyter_client waits for the kernel process it shut down).
- ``VmHWM``: the kernel's own high-water mark, read from ``/proc/<pid>/status`` every 50 ms
  while it runs (the last reading before it exits; may miss a spike in the final 50 ms).

The table reports the larger of the two as "peak MB", and whether it stays under
mybinder.org's budget of 1.5 GB (the pod has 2 GB; the rest is for JupyterLab or Voila).
It also shows "anon": the kernel's peak anonymous memory (RssAnon, polled), i.e. without the
pages of shared libraries mapped from disk. ``import torch`` alone maps several hundred MB of
library code (more for a CUDA build of torch than for the CPU wheels Binder installs); those
pages count in RSS but can be dropped and re-read under memory pressure.

Set the environment as CI does for the notebooks that need it, e.g.::

    TORCH_HOME=$PWD/../shared/torch-home ACTWIDGETS_RANDOM_WEIGHTS=1 MPLBACKEND=Agg \\
        python benchmarks/memory.py

This is a script that prints, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
BUDGET_MB = 1536.0  # 1.5 GiB


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    out: list[int] = []
    task = Path(f"/proc/{pid}/task")
    try:
        threads = list(task.iterdir())
    except OSError:
        return out
    for t in threads:
        try:
            out.extend(int(c) for c in (t / "children").read_text().split())
        except OSError:
            continue
    return out


def _descendants(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        for c in _children(p):
            if c not in seen:
                seen.append(c)
                todo.append(c)
    return seen


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _kb(value: str) -> float:
    return float(value.split()[0])


class KernelWatcher(threading.Thread):
    """Polls the VmHWM of every kernel process below ``root`` (ipykernel_launcher)."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_kb: dict[int, float] = {}
        self.anon_kb: dict[int, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in _descendants(self.root):
                try:
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"ipykernel" not in cmdline:
                    continue
                status = _status(pid)
                if "VmHWM" in status:
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0.0), _kb(status["VmHWM"]))
                if "RssAnon" in status:
                    self.anon_kb[pid] = max(self.anon_kb.get(pid, 0.0), _kb(status["RssAnon"]))
            self.stop.wait(self.interval)


def measure(notebook: Path, timeout: int = 900) -> dict[str, object]:
    """Execute ``notebook`` in a fresh kernel; wall time, peaks in MB, success."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
            f"--ExecutePreprocessor.timeout={timeout}", "--ExecutePreprocessor.kernel_name=python3",
            "--output-dir", tmp, "--output", notebook.stem, str(notebook),
        ]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=notebook.parent, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        watcher = KernelWatcher(proc.pid)
        watcher.start()
        output: list[bytes] = []
        reader = threading.Thread(target=lambda: output.append(proc.stdout.read()), daemon=True)
        reader.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        watcher.stop.set()
        watcher.join()
        reader.join()
    wait4_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
    hwm_mb = max(watcher.peak_kb.values(), default=0.0) / 1024
    anon_mb = max(watcher.anon_kb.values(), default=0.0) / 1024
    ok = proc.returncode == 0
    tail = b"".join(output).decode(errors="replace").strip().splitlines()[-5:]
    return {
        "notebook": notebook.name, "ok": ok, "wall_s": wall, "wait4_mb": wait4_mb,
        "hwm_mb": hwm_mb, "anon_mb": anon_mb, "peak_mb": max(wait4_mb, hwm_mb),
        "log": "" if ok else "\n".join(tail),
    }


def self_check() -> bool:
    """A notebook whose cell touches 500 MB must measure at least ~500 MB above a bare kernel."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.ipynb"
        big = Path(tmp) / "big.ipynb"
        nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), bare)
        nbformat.write(new_notebook(cells=[new_code_cell(
            "import numpy as np\nblock = np.ones(500 * 2**20 // 8)   # 500 MiB, every page touched"
        )]), big)
        a, b = measure(bare), measure(big)
    ok = a["ok"] and b["ok"] and b["peak_mb"] - a["peak_mb"] > 450
    print(f"self-check: bare kernel {a['peak_mb']:.0f} MB (wait4 {a['wait4_mb']:.0f}, VmHWM "
          f"{a['hwm_mb']:.0f}); with a 500 MiB array {b['peak_mb']:.0f} MB (wait4 "
          f"{b['wait4_mb']:.0f}, VmHWM {b['hwm_mb']:.0f}) -> {'OK' if ok else 'FAILED'}")
    return bool(ok)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Peak memory and wall time of the notebooks.")
    parser.add_argument("names", nargs="*", help="notebook name prefixes (default: all)")
    parser.add_argument("--self-check", action="store_true",
                        help="first check that a 500 MB allocation in a cell is measured")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)

    if args.self_check and not self_check():
        return 1
    notebooks = sorted(p for p in NOTEBOOKS.glob("*.ipynb")
                       if not args.names or any(p.name.startswith(n) for n in args.names))
    if not notebooks:
        print(f"no notebooks match {args.names} in {NOTEBOOKS}")
        return 1
    print(f"{'notebook':<40} {'wall time':>9} {'peak MB':>8} {'wait4':>7} {'VmHWM':>7} "
          f"{'anon':>6}  under 1.5 GB")
    results, total = [], 0.0
    for nb in notebooks:
        r = measure(nb)
        results.append(r)
        total += r["wall_s"]
        verdict = ("yes" if r["peak_mb"] < BUDGET_MB else "NO") if r["ok"] else "FAILED"
        print(f"{r['notebook']:<40} {r['wall_s']:8.0f}s {r['peak_mb']:8.0f} {r['wait4_mb']:7.0f} "
              f"{r['hwm_mb']:7.0f} {r['anon_mb']:6.0f}  {verdict}", flush=True)
        if not r["ok"]:
            print("    " + str(r["log"]).replace("\n", "\n    "))
    print(f"{'all notebooks':<40} {total:8.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if all(r["ok"] and r["peak_mb"] < BUDGET_MB for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
