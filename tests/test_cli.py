"""``python -m actwidgets``: arguments checked before loading, one line and status 2 on bad
input, the format the file name asks for."""

from __future__ import annotations

import pytest
from PIL import Image

from actwidgets.__main__ import main


def test_the_main_job_writes_the_grid(tmp_path, capsys):
    out = tmp_path / "grid" / "conv1.jpg"
    assert main(["squeezenet", "--random-weights", "--layer", "conv1", "--out", str(out)]) == 0
    with Image.open(out) as img:
        assert img.format == "JPEG" and img.size[0] > 100
    assert "conv1 (pre): 64 channels of 113×113" in capsys.readouterr().out
    png = tmp_path / "conv1.png"
    assert main(["squeezenet", "--random-weights", "--out", str(png)]) == 0
    with Image.open(png) as img:
        assert img.format == "PNG"


@pytest.mark.parametrize("argv,message", [
    (["nosuchnet"], "unknown model 'nosuchnet'"),
    (["squeezenet", "--out", "grid.xyz"], "cannot tell the format from '.xyz'"),
    (["squeezenet", "--image", "no/such.jpg"], "--image: no image file"),
    (["squeezenet", "--image", "https://example.com/x.jpg"], "web address"),
    (["squeezenet", "--random-weights", "--layer", "conv99"], "--layer: no layer named 'conv99'"),
    (["vgg16", "--weights", "caffe"], 'weights="caffe" is available for'),
])
def test_bad_input_is_one_line_and_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert captured.out == ""  # found before the table is printed
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_model_and_image_are_found_before_anything_loads(tmp_path, monkeypatch):
    import actwidgets.model.zoo as zoo

    monkeypatch.setattr(zoo, "load_model", lambda *a, **k: pytest.fail("loaded a model"))
    assert main(["nosuchnet"]) == 2
    assert main(["squeezenet", "--image", str(tmp_path / "missing.png")]) == 2


def test_offline_weights_speak_of_random_weights(tmp_path, monkeypatch, capsys):
    import actwidgets as aw
    import actwidgets.model.zoo as zoo

    def offline(url, label, **kwargs):  # what fetch raises where nothing can be downloaded
        raise aw.WeightsUnavailableError(f"pretrained weights for {label} (x.pth) are neither in "
                                         "the cache folder nor downloadable from here",
                                         "pass weights=None for random weights")

    monkeypatch.setattr(zoo, "fetch", offline)
    monkeypatch.delenv("ACTWIDGETS_RANDOM_WEIGHTS", raising=False)
    assert main(["googlenet", "--weights", "caffe", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "--random-weights" in err and "weights=None" not in err and err.count("\n") == 1


def test_an_out_path_that_cannot_be_written_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.png").mkdir()
    assert main(["squeezenet", "--random-weights", "--out", "d.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err, err
    assert main(["squeezenet", "--random-weights", "--out", "/proc/x.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out /proc/x.png" in err, err


def test_an_unwritable_out_is_found_before_the_model_loads(tmp_path, monkeypatch, capsys):
    import sys

    import actwidgets.model.zoo as zoo

    monkeypatch.setattr(zoo, "load_model", lambda *a, **k: pytest.fail("loaded a model first"))
    if sys.platform == "linux":  # /proc refuses new files, also to root (os.access says yes)
        assert main(["squeezenet", "--random-weights", "--out", "/proc/x.png"]) == 2
        assert "--out /proc/x.png: cannot write into /proc" in capsys.readouterr().err
    locked = tmp_path / "locked.png"
    locked.write_bytes(b"")
    locked.chmod(0o444)
    import os

    if not os.access(locked, os.W_OK):  # root writes anything but /proc
        assert main(["squeezenet", "--random-weights", "--out", str(locked)]) == 2
        assert "the file exists and cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("index,name", [("3", "fire2-squeeze1x1"), ("-1", "pool10"), ("0", "conv1")])
def test_layer_takes_an_index_as_python_does(index, name, tmp_path, capsys):
    import actwidgets as aw

    net = aw.load_model("squeezenet", weights=None)
    assert net.layers[int(index)].name == name  # what Python's activations(net, image, 3) uses
    assert main(["squeezenet", "--random-weights", "--layer", index, "--out", str(tmp_path / "g.png")]) == 0
    assert f"\n{name} (" in capsys.readouterr().out
    assert main(["squeezenet", "--random-weights", "--layer", "64", "--out", str(tmp_path / "g.png")]) == 2
    assert "--layer 64: layer index 64 is out of range: there are 64 layers" in capsys.readouterr().err


def test_the_weights_are_listed_once_each(capsys):
    assert main(["resnet18", "--weights", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "choose one of ['DEFAULT', 'IMAGENET1K_V1']" in err and err.count("DEFAULT") == 1, err
