"""actwidgets.model.weights: torch hub's cache, fetching a file, reading it safely.

Every cache here is a temporary TORCH_HOME; a "download" is a ``file://`` URL into
``tmp_path`` (urllib reads those like any other), and "offline" is a URL to nothing, so no
test reaches a network. The last tests read the real SqueezeNet file in ../shared.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

import actwidgets as aw
from actwidgets.model import weights
from actwidgets.model.weights import (
    RANDOM_WEIGHTS_ENV,
    WeightsFileError,
    WeightsUnavailableError,
    build_headless,
    cache_path,
    fetch,
    load_into,
    read_state_dict,
)

SQUEEZENET_FILE = "squeezenet1_1-b8a52dc0.pth"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache of our own, no random-weights fallback."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(RANDOM_WEIGHTS_ENV, raising=False)
    return tmp_path / "home" / "hub" / "checkpoints"


@pytest.fixture
def no_download(monkeypatch):
    """Any download attempt fails the test."""
    monkeypatch.setattr(torch.hub, "download_url_to_file",
                        lambda *a, **k: pytest.fail(f"tried to download {a[0]}"))


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 4, 3)
        self.classifier = nn.Linear(4, 10)


def tiny_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.clone() for k, v in Tiny().state_dict().items()}


def served(tmp_path: Path, name: str, data: bytes) -> str:
    """A ``file://`` URL serving ``data`` as ``name``."""
    path = tmp_path / "server" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path.as_uri()


def saved(state, path: Path) -> bytes:
    torch.save(state, path)
    return path.read_bytes()


# --------------------------------------------------------------------------- the cache


def test_the_cache_is_torch_homes_hub_checkpoints(home):
    assert cache_path("x-0123abcd.pth") == home / "x-0123abcd.pth"


def test_a_cached_file_is_used_without_any_download(home, no_download):
    home.mkdir(parents=True)
    (home / "mine.pth").write_bytes(b"anything")
    assert fetch("https://example.invalid/weights/mine.pth", "mine") == home / "mine.pth"
    (home / "other-name.pth").write_bytes(b"anything")
    got = fetch("https://example.invalid/x.pth", "mine", filename="other-name.pth")
    assert got == home / "other-name.pth"


# --------------------------------------------------------------------------- fetching


def test_a_download_lands_in_the_cache_once_checked(home, tmp_path):
    data = saved(tiny_state(), tmp_path / "w.pth")
    prefix = hashlib.sha256(data).hexdigest()[:8]
    url = served(tmp_path, f"tiny-{prefix}.pth", data)
    path = fetch(url, "tiny", sha1=hashlib.sha1(data).hexdigest())
    assert path == home / f"tiny-{prefix}.pth" and path.read_bytes() == data
    assert sorted(p.name for p in home.iterdir()) == [path.name]  # no .download left behind


def test_a_download_whose_sha256_differs_from_its_name_is_refused(home, tmp_path):
    """Before: torch's hash mismatch was reported as "neither in the cache nor downloadable"."""
    data = saved(tiny_state(), tmp_path / "w.pth")
    wrong = "0" * 8 if not hashlib.sha256(data).hexdigest().startswith("0") else "f" * 8
    url = served(tmp_path, f"tiny-{wrong}.pth", data)
    with pytest.raises(WeightsFileError, match=rf"tiny-{wrong}.pth did not download intact: its "
                       rf"SHA-256 is {hashlib.sha256(data).hexdigest()}, not the {wrong}\.\.\. its "
                       rf"name tiny-{wrong}.pth promises\. Try again later\."):
        fetch(url, "tiny")
    assert list(home.iterdir()) == []  # nothing damaged is left in the cache


def test_a_download_with_the_wrong_sha1_is_refused(home, tmp_path):
    url = served(tmp_path, "tiny.pth", b"not the published file")
    with pytest.raises(WeightsFileError, match=r"did not download intact: its SHA-1 is [0-9a-f]{40}, "
                       r"not the published 1234\. Try again later\."):
        fetch(url, "tiny", sha1="1234")
    assert list(home.iterdir()) == []


def test_a_conversion_writes_the_cached_file_and_the_download_goes(home, tmp_path):
    url = served(tmp_path, "original.bin", b"abc")
    seen = []

    def convert(download: Path, cached: Path) -> None:
        seen.append(download.read_bytes())
        cached.write_bytes(b"converted")

    path = fetch(url, "tiny", filename="tiny-converted.pth", convert=convert)
    assert seen == [b"abc"] and path.read_bytes() == b"converted"
    assert [p.name for p in home.iterdir()] == ["tiny-converted.pth"]


def test_offline_the_error_names_the_file_the_folder_and_the_ways_out(home, tmp_path):
    url = (tmp_path / "nowhere" / "tiny-0123abcd.pth").as_uri()
    with pytest.raises(WeightsUnavailableError) as info:
        fetch(url, "tiny net")
    reason = (f"pretrained weights for tiny net (tiny-0123abcd.pth) are neither in the cache folder "
              f"{home} nor downloadable from here ({url})")
    assert info.value.reason == reason
    assert str(info.value) == (
        f"{reason}. Ways out: run once where the internet is reachable (the file is cached); put "
        f"tiny-0123abcd.pth into {home} yourself (TORCH_HOME picks the cache root); pass "
        f"weights=None for random weights; or set {RANDOM_WEIGHTS_ENV}=1 to fall back to random weights.")
    assert list(home.iterdir()) == []


def test_with_random_weights_allowed_nothing_is_downloaded(home, monkeypatch, no_download):
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    with pytest.raises(WeightsUnavailableError, match="neither in the cache folder"):
        fetch("https://download.pytorch.org/models/tiny-0123abcd.pth", "tiny")
    assert not home.exists()  # not even the folder was made


@pytest.mark.parametrize("value, allowed", [("1", True), (" 1 ", True), ("0", False), ("", False),
                                            ("yes", False)])
def test_only_1_allows_random_weights(monkeypatch, value, allowed):
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, value)
    assert weights.random_fallback_allowed() is allowed


# --------------------------------------------------------------------------- reading


def test_a_state_dict_is_read_also_when_wrapped(tmp_path):
    state = tiny_state()
    for holder in (state, {"state_dict": state, "epoch": 3}):
        torch.save(holder, tmp_path / "w.pth")
        for mmap in (False, True):
            got = read_state_dict(tmp_path / "w.pth", mmap=mmap)
            assert list(got) == list(state) and all(torch.equal(got[k], v) for k, v in state.items())


def _damaged(tmp_path: Path) -> dict[str, Path]:
    good = saved(tiny_state(), tmp_path / "good.pth")
    files = {"truncated": good[: len(good) // 2], "empty": b"", "random bytes": bytes(range(256)) * 8,
             "text": b"<html>404 not found</html>"}
    middle = bytearray(good)
    with zipfile.ZipFile(tmp_path / "good.pth") as z:  # the tensor data of the first entry
        info = next(i for i in z.infolist() if "/data/" in i.filename)
    name_len, extra_len = (int.from_bytes(good[info.header_offset + i:info.header_offset + i + 2], "little")
                           for i in (26, 28))  # the local header's own lengths
    start = info.header_offset + 30 + name_len + extra_len
    middle[start:start + 64] = bytes(64)
    files["overwritten data"] = bytes(middle)
    out = {}
    for what, data in files.items():
        out[what] = tmp_path / f"{what.replace(' ', '_')}.pth"
        out[what].write_bytes(data)
    return out


def test_a_damaged_file_is_a_weights_file_error_naming_it(tmp_path):
    for what, path in _damaged(tmp_path).items():
        if what == "overwritten data":
            continue  # a zip's stored data has no checksum torch checks: see the next test
        for mmap in (False, True):
            with pytest.raises(WeightsFileError, match=rf"{path.name} is damaged or not a PyTorch weights "
                               r"file \(.*\)\. Delete it and load again to download a fresh copy, or put a "
                               r"good copy there\.") as info:
                read_state_dict(path, mmap=mmap)
            assert info.value.__cause__ is None and info.value.__suppress_context__, what


def test_overwritten_tensor_data_reads_but_its_hash_does_not_match(tmp_path):
    """A zip stores the tensors uncompressed; torch does not check their CRC, so damage inside
    the data reads as other numbers. That is what the file name's SHA-256 prefix catches."""
    path = _damaged(tmp_path)["overwritten data"]
    got = read_state_dict(path)
    assert not all(torch.equal(got[k], v) for k, v in tiny_state().items())
    assert hashlib.sha256(path.read_bytes()).hexdigest() != hashlib.sha256(
        (tmp_path / "good.pth").read_bytes()).hexdigest()


def test_a_file_is_read_without_running_its_code(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    torch.save({"w": torch.zeros(1), "x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(WeightsFileError, match=r"evil.pth is damaged or not a PyTorch weights file"):
        read_state_dict(tmp_path / "evil.pth")
    assert not marker.exists()


def test_a_file_that_holds_no_state_dict_says_what_it_holds(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(WeightsFileError, match=r"tensor.pth holds a Tensor, not a state dict"):
        read_state_dict(tmp_path / "tensor.pth")


def test_a_state_dict_of_another_architecture_is_named_with_the_file(tmp_path):
    path = tmp_path / "other.pth"
    state = {"features.weight": torch.zeros(4, 3, 3, 3)}
    with pytest.raises(WeightsFileError, match=r"other.pth does not fit the tiny net: Error\(s\) in "
                       r"loading state_dict for Tiny:.* Check that the file holds this architecture's "
                       r"state dict\.") as info:
        load_into(Tiny(), state, path, "the tiny net")
    assert info.value.__cause__ is None
    model = Tiny()
    load_into(model, tiny_state(1), path, "the tiny net")
    assert torch.equal(model.features.weight, tiny_state(1)["features.weight"])


# --------------------------------------------------------------------------- without the head


def test_a_headless_model_loads_all_but_the_head_from_the_file(tmp_path):
    state = tiny_state(2)
    torch.save(state, tmp_path / "w.pth")
    model = build_headless(Tiny, "classifier", tmp_path / "w.pth")
    assert isinstance(model.classifier, nn.Identity) and list(model.state_dict()) == [
        "features.weight", "features.bias"]
    assert torch.equal(model.features.weight, state["features.weight"])
    assert model.features.weight.device.type == "cpu"


def test_a_headless_model_without_a_file_is_initialised(tmp_path):
    torch.manual_seed(5)
    model = build_headless(Tiny, "classifier", None)
    assert torch.isfinite(model.features.weight).all() and model.features.weight.abs().sum() > 0
    assert model.features.weight.abs().max() <= 1 / (3 * 9) ** 0.5  # Conv2d's own init bound
    zeroed = build_headless(Tiny, "classifier", None, init=lambda m: nn.init.zeros_(m.features.weight))
    assert torch.equal(zeroed.features.weight, torch.zeros(4, 3, 3, 3))


# --------------------------------------------------------------------------- through load_model


def test_a_damaged_cached_file_is_named_by_load_model(home, no_download):
    home.mkdir(parents=True)
    (home / SQUEEZENET_FILE).write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(aw.WeightsFileError, match=rf"{SQUEEZENET_FILE} is damaged .* Delete it"):
        aw.load_model("squeezenet")


def test_load_model_offline_without_the_file(home, monkeypatch, no_download):
    monkeypatch.setenv(RANDOM_WEIGHTS_ENV, "1")
    with pytest.warns(RuntimeWarning, match=r"squeezenet: no pretrained weights here; "
                      rf"{RANDOM_WEIGHTS_ENV}=1, so the network has RANDOM weights"):
        net = aw.load_model("squeezenet")
    assert not net.pretrained and not home.exists()


# --------------------------------------------------------------------------- the real file


def _shared_squeezenet() -> Path:
    """The real file in TORCH_HOME's cache (tests/conftest.py points it at ../shared)."""
    path = Path(os.environ.get("TORCH_HOME", "-")) / "hub" / "checkpoints" / SQUEEZENET_FILE
    if not path.is_file():
        pytest.skip(f"the real SqueezeNet weights are not here: set TORCH_HOME to a folder holding "
                    f"hub/checkpoints/{SQUEEZENET_FILE} (../shared/torch-home in this project)")
    return path


@pytest.mark.weights
def test_the_real_squeezenet_file_is_found_intact_and_read(monkeypatch, no_download):
    path = _shared_squeezenet()
    monkeypatch.setenv("TORCH_HOME", str(path.parents[2]))
    import torchvision

    url = torchvision.models.get_model_weights("squeezenet1_1").DEFAULT.url
    assert fetch(url, "squeezenet") == path  # found in the cache: no download
    state = read_state_dict(path, mmap=True)
    assert len(state) == 52 and state["features.0.weight"].shape == (64, 3, 3, 3)
    assert state["classifier.1.weight"].shape == (1000, 512, 1, 1)


@pytest.mark.weights
def test_the_real_squeezenet_weights_load_and_classify(monkeypatch, no_download):
    path = _shared_squeezenet()
    monkeypatch.setenv("TORCH_HOME", str(path.parents[2]))
    net = aw.load_model("squeezenet")
    assert net.pretrained
    assert torch.equal(net.model.features[0].weight, read_state_dict(path)["features.0.weight"])
    assert aw.classify(net, aw.sample_image("coffee"), top=1)[0][0].startswith("espresso")
