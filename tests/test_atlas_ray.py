"""The channel atlas on Ray Data equals the local scan (a local, offline Ray instance).

Skips where Ray is not installed (``pip install -e ".[scale]"``). Starting Ray takes
20-40 s on a 2-core machine, its first dataset 10-30 s more: one instance for the module.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own
pytest.importorskip("ray.data")

from test_atlas import LAYERS, _write_folder, photos, tiny_net  # noqa: E402  (tests/ is on sys.path)

import actwidgets as aw  # noqa: E402
from actwidgets.atlas.topk import FIELDS  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")          # offline: no usage report
    os.environ.setdefault("RAY_enable_metrics_collection", "0")    # no metrics agent to wait for
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        except Exception:  # Ray gives its raylet 30 s to start; a busy 2-core machine can miss it
            ray.shutdown()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def assert_same_atlas(ray_atlas, local):
    assert ray_atlas._tables.keys() == local._tables.keys()
    for key in local._tables:
        a, b = ray_atlas._tables[key], local._tables[key]
        np.testing.assert_array_equal(a["index"], b["index"], err_msg=str(key))
        np.testing.assert_array_equal(a["cell"], b["cell"], err_msg=str(key))
        np.testing.assert_array_equal(a["size"], b["size"], err_msg=str(key))
        for f in ("max", "mean"):
            np.testing.assert_allclose(a[f], b[f], rtol=1e-5, atol=1e-6, err_msg=f"{key} {f}")
    assert ray_atlas.skipped == local.skipped
    assert ray_atlas.meta.images == local.meta.images
    assert ray_atlas.meta.paths == local.meta.paths


def test_ray_atlas_equals_the_local_one(local_ray, tmp_path):
    net = tiny_net()
    pictures = photos()
    _write_folder(tmp_path, pictures[:4])                  # 4 photos and 2 unreadable files
    images = [str(p) for p in sorted(tmp_path.rglob("*.*")) if p.suffix != ".txt"] + pictures[4:]
    kwargs = dict(top=3, score=("max", "mean"), batch_size=4, progress=False)
    local = aw.channel_atlas(net, images, LAYERS, **kwargs)
    on_ray = aw.channel_atlas(net, images, LAYERS, engine="ray", actors=1, **kwargs)
    assert on_ray.meta.engine == "ray" and on_ray.complete
    assert on_ray.skipped.count == 2
    assert_same_atlas(on_ray, local)


def test_the_ray_stages_in_process_resume_from_an_offset():
    """read_batch and Scanner as Ray runs them, without a cluster: from image 5 on, merged
    into a local atlas of images 0-4, they give the local atlas of all images."""
    from actwidgets.atlas import engine, ray_engine, topk
    from actwidgets.atlas.sources import collection

    net, pictures = tiny_net(), photos()
    kwargs = dict(top=3, score=("max", "mean"), batch_size=4, progress=False)
    whole = aw.channel_atlas(net, pictures, LAYERS, **kwargs)
    part = aw.channel_atlas(net, pictures[:5], LAYERS, **kwargs)
    points = list(dict.fromkeys(p for spec in whole.meta.layers for p in spec.points.values()))
    scanner = ray_engine.Scanner(net.model, net.preprocess, net.extractor.backend, points,
                                 ["max", "mean"], 3)
    tables = {key: topk.from_numpy(t) for key, t in part._tables.items()}
    state = engine.ScanState(tables, scanned=5)
    images = collection(pictures)
    for ids in (np.arange(0, 4), np.arange(4, 7)):             # ray.data.range's ids, from 5 on
        batch = ray_engine.read_batch({"id": ids}, images, net.preprocess, start=5)
        payload = pickle.loads(scanner(batch)["payload"][0])
        assert payload["first"] == 5 + ids[0] and payload["count"] == len(ids)
        merged = {key: topk.merge(t, topk.from_numpy(payload["tables"][key]), 3, key[1])
                  for key, t in state.tables.items()}
        state = state.advanced(merged, payload["count"], payload["errors"])
    assert state.scanned == len(pictures)
    for key, table in state.tables.items():
        for f in FIELDS:
            np.testing.assert_allclose(topk.to_numpy(table)[f], whole._tables[key][f], rtol=1e-5, atol=1e-6)


_READ_ONLY_BATCH = """
import numpy as np, torch
from torch import nn
import actwidgets as aw
from actwidgets.atlas.ray_engine import Scanner
torch.manual_seed(0)
net = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU()), input_size=16)
scanner = Scanner(net.model, net.preprocess, net.extractor.backend, ["0", "1"], ["max"], 2)
batch = {"index": np.arange(3), "pixels": np.zeros((3, 3, 16, 16), np.float32),
         "ok": np.ones(3, bool), "size": np.full((3, 4), 16, np.int32),
         "error": np.array(["", "", ""], dtype=object)}
for a in batch.values():
    a.setflags(write=False)  # as Ray Data hands them over: views of its object store
out = scanner(batch)
print("scanned", len(out["payload"]))
"""


def test_a_worker_takes_read_only_batches_without_pytorchs_warning(tmp_path):
    """Ray Data's batches are read-only; wrapping them as tensors made every worker print
    PyTorch's "NumPy array is not writable" warning (once per process: a fresh one here)."""
    import subprocess
    import sys

    script = tmp_path / "worker.py"
    script.write_text(_READ_ONLY_BATCH)
    root = os.path.dirname(os.path.dirname(aw.__file__))
    done = subprocess.run([sys.executable, "-W", "default", str(script)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=root))
    assert done.returncode == 0 and "scanned 1" in done.stdout, done.stderr
    assert "not writable" not in done.stderr
