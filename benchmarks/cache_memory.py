"""Memory of the activation caches under many widget-like requests: one budget for all networks.

    python benchmarks/cache_memory.py [--changes 1000] [--networks 3] [--budget-mb 512]

Three SqueezeNets (random weights: memory does not depend on them) and random image/layer
requests, as a person clicking through explorers does. Measured in one process, twice: with
the process-wide budget (what actwidgets does) and with a cache of the same size per network
(what it did before, 256 MiB each by default). Prints the resident memory growth and the bytes
the caches hold. Each variant runs in a fresh child process, so that one's freed memory does
not flatter the other. A script, not a test: memory figures depend on the allocator.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys

import numpy as np

import actwidgets as aw
from actwidgets.cache import ByteLRU, CacheView, set_cache_budget


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(changes: int, networks: int, budget_mb: float, per_network: bool) -> dict[str, float]:
    set_cache_budget(budget_mb)
    nets = [aw.load_model("squeezenet", weights=None, seed=s) for s in range(networks)]
    if per_network:  # the old way: every network a budget of its own
        for net in nets:
            net.cache = CacheView(ByteLRU(int(budget_mb * 2**20)))
    rng = random.Random(0)
    images = [np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8) for i in range(40)]
    start = rss_mb()
    for _ in range(changes):
        net = rng.choice(nets)
        aw.activations(net, rng.choice(images), rng.choice(net.layers.names), stage="both")
    held = sum(net.cache.nbytes for net in nets) / 2**20
    grown = rss_mb() - start
    del nets, net
    gc.collect()
    return {"held": held, "grown": grown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--budget-mb", type=float, default=256)
    parser.add_argument("--variant", choices=["shared", "per-network"], default=None,
                        help=argparse.SUPPRESS)  # the child processes
    args = parser.parse_args()
    if args.variant:
        r = run(args.changes, args.networks, args.budget_mb, args.variant == "per-network")
        print(json.dumps(r))
        return 0
    print(f"{args.changes} random image/layer requests over {args.networks} networks, "
          f"budget {args.budget_mb:.0f} MiB")
    print(f"{'caches':<34} {'held MiB':>9} {'RSS growth MiB':>15}")
    for label, variant in [("one budget for all (actwidgets)", "shared"),
                           (f"one budget per network (x{args.networks})", "per-network")]:
        out = subprocess.run([sys.executable, __file__, "--changes", str(args.changes), "--networks",
                              str(args.networks), "--budget-mb", str(args.budget_mb), "--variant",
                              variant], capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{label:<34} {r['held']:9.0f} {r['grown']:15.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
