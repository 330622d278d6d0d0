"""activations(): values, stages, batches, image kinds, the cache, on real SqueezeNet weights."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import actwidgets as aw
from actwidgets.cache import ByteLRU


def test_fire6_squeeze_pre_is_negative_and_post_is_its_relu(squeezenet, face):
    pre = aw.activations(squeezenet, face, "fire6-squeeze1x1", "pre")
    post = aw.activations(squeezenet, face, "fire6-squeeze1x1", "post")
    assert pre.dtype == np.float32 and pre.shape == (48, 14, 14)
    assert pre.min() < 0 and (pre < 0).mean() > 0.05  # 14.5% for the face
    np.testing.assert_array_equal(post, np.maximum(pre, 0))
    # The ReLU layer's own stages are the same two values.
    np.testing.assert_array_equal(aw.activations(squeezenet, face, "fire6-relu_squeeze1x1", "pre"), pre)
    np.testing.assert_array_equal(aw.activations(squeezenet, face, "fire6-relu_squeeze1x1"), post)
    # MATLAB's conv name defaults to the pre-ReLU value, as in MATLAB.
    np.testing.assert_array_equal(aw.activations(squeezenet, face, "fire6-squeeze1x1"), pre)


def test_every_layer_in_one_pass_matches_the_catalogue(squeezenet, face):
    names = squeezenet.layers.names
    out = aw.activations(squeezenet, face, names)
    for info in squeezenet.layers:
        assert out[info.name].shape == (info.channels, *info.size), info.name
    # conv1 by hand: the first layer is a plain convolution of the preprocessed picture.
    x = squeezenet.tensor(face)
    expected = torch.nn.functional.conv2d(
        x, squeezenet.model.features[0].weight, squeezenet.model.features[0].bias, stride=2
    )[0].numpy()
    np.testing.assert_allclose(out["conv1"], expected, rtol=1e-4, atol=1e-4)
    # pool10's average of relu_conv10 is the network's logits.
    with torch.no_grad():
        logits = squeezenet.model(x)[0].numpy()
    np.testing.assert_allclose(out["pool10"].ravel(), logits, rtol=1e-4, atol=1e-4)


def test_batches_and_dicts_agree_with_single_calls(squeezenet):
    images = [aw.sample_image("face"), aw.sample_image("cat")]
    batch = aw.activations(squeezenet, images, "fire2-concat")
    assert batch.shape == (2, 128, 56, 56)
    for i, image in enumerate(images):
        np.testing.assert_allclose(batch[i], aw.activations(squeezenet, image, "fire2-concat"), atol=1e-5)
    both = aw.activations(squeezenet, images[0], ["conv1", "pool1"])
    assert set(both) == {"conv1", "pool1"}


def test_every_kind_of_image_input_gives_the_same_activations(squeezenet, face, tmp_path):
    reference = aw.activations(squeezenet, face, "conv1")
    path = tmp_path / "face.png"
    Image.fromarray(face).save(path)
    rgba = np.concatenate([face, np.full(face.shape[:2] + (1,), 255, np.uint8)], axis=2)
    inputs = {
        "path": str(path),
        "pathlib": path,
        "PIL": Image.fromarray(face),
        "float": face.astype(np.float64) / 255,
        "RGBA": rgba,
        "tensor CHW": torch.from_numpy(face).permute(2, 0, 1).float() / 255,
        "bytes": path.read_bytes(),
    }
    for kind, image in inputs.items():
        np.testing.assert_allclose(aw.activations(squeezenet, image, "conv1"), reference,
                                   atol=1e-4, err_msg=kind)
    grey = aw.activations(squeezenet, face[..., 0], "conv1")
    assert grey.shape == reference.shape


def test_the_caller_s_data_is_never_mutated(squeezenet, face):
    image = face.copy()
    image.flags.writeable = True
    acts = aw.activations(squeezenet, image, "conv1")
    np.testing.assert_array_equal(image, face)
    acts[:] = 0  # the returned array is a copy: the cache is unharmed
    assert aw.activations(squeezenet, image, "conv1").any()


def test_the_cache_saves_the_forward_pass(face):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    calls = []
    model[0].register_forward_pre_hook(lambda m, i: calls.append(1))  # the user's own hook
    net = aw.Network.wrap(model, input_size=32)
    net.layers  # builds the catalogue (one forward pass)
    calls.clear()
    a = aw.activations(net, face, "0", "pre")
    b = aw.activations(net, face, "0", "post")  # another stage of the same image: cached point?
    aw.activations(net, face, "0", "pre")
    assert len(calls) == 2  # pre and post are different points: two passes, then cache hits
    assert net.cache.hits >= 1
    np.testing.assert_array_equal(b, np.maximum(a, 0))
    # An optimiser step changes the weights in place: the cache must not serve stale values.
    with torch.no_grad():
        model[0].bias.add_(1.0)
    c = aw.activations(net, face, "0", "pre")
    np.testing.assert_allclose(c, a + 1.0, atol=1e-5)
    assert len(model[0]._forward_pre_hooks) == 1  # the user's hook is still there, ours are not


def test_byte_lru_evicts_least_recently_used():
    cache = ByteLRU(max_bytes=100)
    cache.put("a", np.zeros(10, np.float32))  # 40 bytes
    cache.put("b", np.zeros(10, np.float32))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", np.zeros(10, np.float32))  # 120 bytes: evict b
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.nbytes == 80
    cache.put("huge", np.zeros(100, np.float32))  # larger than the budget: not stored
    assert "huge" not in cache
    with pytest.raises(ValueError):
        ByteLRU(-1)
    with pytest.raises(TypeError, match="nbytes"):
        cache.put("x", object())


def test_bad_input_errors(squeezenet, face):
    with pytest.raises(TypeError, match="load_model"):
        aw.activations("squeezenet", face, "conv1")  # type: ignore[arg-type]
    with pytest.raises(aw.LayerNameError, match="conv10"):
        aw.activations(squeezenet, face, "conv100")
    with pytest.raises(ValueError, match="stage"):
        aw.activations(squeezenet, face, "conv1", stage="before")
    with pytest.raises(ValueError, match="empty"):
        aw.activations(squeezenet, face, [])
    with pytest.raises((ValueError, TypeError)):
        aw.activations(squeezenet, np.zeros((4, 4, 7)), "conv1")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_gives_the_cpu_values(face):
    cpu = aw.load_model("squeezenet", weights=None)
    gpu = aw.load_model("squeezenet", weights=None).to("cuda")
    gpu.model.load_state_dict(cpu.model.state_dict())
    np.testing.assert_allclose(
        aw.activations(gpu, face, "fire6-squeeze1x1"), aw.activations(cpu, face, "fire6-squeeze1x1"),
        rtol=1e-3, atol=1e-3,
    )


def test_import_changes_nothing_global():
    code = (
        "import socket, sys\n"
        "def no_network(*a, **k): raise AssertionError('network touched at import')\n"
        "socket.socket.connect = no_network\n"
        "import torch\n"
        "state = (torch.get_default_dtype(), torch.get_num_threads(), torch.is_grad_enabled())\n"
        "import actwidgets\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "assert 'ipywidgets' not in sys.modules, 'ipywidgets imported below the widget layer'\n"
        "assert state == (torch.get_default_dtype(), torch.get_num_threads(), torch.is_grad_enabled())\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_both_stages_come_from_one_forward_pass(squeezenet, face):
    runs = []
    original = squeezenet.extractor.run
    squeezenet.cache.clear()
    try:
        squeezenet.extractor.run = lambda *a, **k: runs.append(1) or original(*a, **k)
        both = aw.activations(squeezenet, face, ["conv1", "fire6-squeeze1x1"], stage="both")
    finally:
        del squeezenet.extractor.run
    assert len(runs) == 1
    assert set(both) == {"conv1", "fire6-squeeze1x1"} and set(both["conv1"]) == {"pre", "post"}
    np.testing.assert_array_equal(both["conv1"]["post"], np.maximum(both["conv1"]["pre"], 0))
    np.testing.assert_array_equal(both["conv1"]["pre"], aw.activations(squeezenet, face, "conv1", "pre"))


def test_a_layer_can_be_named_by_index_or_layer_info(face):
    net = aw.load_model("squeezenet", weights=None)
    by_name = aw.activations(net, face, "fire2-squeeze1x1")
    index = net.layers.names.index("fire2-squeeze1x1")
    np.testing.assert_array_equal(aw.activations(net, face, index), by_name)
    np.testing.assert_array_equal(aw.activations(net, face, net.layers["fire2-squeeze1x1"]), by_name)
    assert set(aw.activations(net, face, [0, "pool1"])) == {"conv1", "pool1"}
    with pytest.raises(TypeError, match="layer must be a layer name"):
        aw.activations(net, face, None)
    with pytest.raises(IndexError, match="there are 64 layers"):
        aw.activations(net, face, 64)
    with pytest.raises(ValueError, match='"both"'):
        aw.activations(net, face, "conv1", stage="after")
    with pytest.raises(ValueError, match="layout must be"):
        aw.activations(net, face, "conv1", layout="nhwc")


def test_one_memory_budget_for_every_network():
    import gc

    from actwidgets.cache import set_cache_budget, shared_cache

    face = aw.sample_image("face")
    lru = shared_cache()
    before = lru.max_bytes
    try:
        set_cache_budget(8)  # 8 MiB for all networks together
        nets = [aw.load_model("squeezenet", weights=None, seed=s) for s in range(3)]
        for net in nets:
            for layer in ("conv1", "fire2-concat", "fire9-concat"):
                aw.activations(net, face, layer)
        assert lru.nbytes <= 8 * 2**20
        assert sum(net.cache.nbytes for net in nets) == lru.nbytes
        nets[0].cache.clear()
        assert nets[0].cache.nbytes == 0 and nets[2].cache.nbytes > 0
        held = nets[2].cache.nbytes
        del nets[2], net  # the loop variable held it too
        gc.collect()
        assert lru.nbytes == sum(net.cache.nbytes for net in nets[:2]) and held > 0
    finally:
        set_cache_budget(before / 2**20)
    with pytest.raises(ValueError, match="megabytes"):
        set_cache_budget(-1)


def _tiny_net(dtype: torch.dtype = torch.float32) -> tuple[nn.Module, aw.Network]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).to(dtype).eval()
    return model, aw.Network.wrap(model, input_size=16)


def _by_hand(model: nn.Module, net: aw.Network, picture: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.relu(model[0](net.tensor(picture)))[0].float().numpy()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_a_model_in_another_dtype_gets_its_input_in_that_dtype(dtype):
    picture = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    model, net = _tiny_net(dtype)
    assert net.dtype == dtype and net.tensor(picture).dtype == dtype
    both = aw.activations(net, picture, "0", stage="both")
    assert both["pre"].dtype == np.float32
    np.testing.assert_array_equal(both["post"], _by_hand(model, net, picture))


def test_the_cache_sees_replaced_parameters_submodules_and_preprocessing():
    picture = np.random.default_rng(1).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    model, net = _tiny_net()
    first = aw.activations(net, picture, "0")
    # A new parameter whose version counter equals the old one's: a version sum would not see it.
    model[0].weight = nn.Parameter(torch.randn_like(model[0].weight))
    second = aw.activations(net, picture, "0")
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(second, _by_hand(model, net, picture))
    model[0] = nn.Conv2d(3, 4, 3)  # the fx graph is built again on the new submodule
    np.testing.assert_array_equal(aw.activations(net, picture, "0"), _by_hand(model, net, picture))
    net.preprocess = aw.Preprocess(16, None, (0.5,) * 3, (0.25,) * 3)
    np.testing.assert_array_equal(aw.activations(net, picture, "0"), _by_hand(model, net, picture))


def test_a_pre_hook_on_an_activation_is_seen_by_the_auto_backend():
    picture = np.random.default_rng(2).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    model, _ = _tiny_net()
    model[1].register_forward_pre_hook(lambda _m, args: (args[0] - 0.5,))
    net = aw.Network.wrap(model, input_size=16)
    assert net.extractor.backend == "hooks" and "pre-hook" in net.extractor.trace_error
    with torch.no_grad():
        expected = (model[0](net.tensor(picture)) - 0.5)[0].numpy()
    np.testing.assert_array_equal(aw.activations(net, picture, "1", stage="pre"), expected)
    np.testing.assert_array_equal(aw.activations(net, picture, "1"), np.maximum(expected, 0))
