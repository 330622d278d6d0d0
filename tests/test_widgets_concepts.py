"""ConceptView (issue 23): its state, what it sends the page, its checks, its feature
visualisation, its exported page, and saving and loading concepts.

A tiny network (a 3×3 convolution of 4 channels and its ReLU) on a few generated pictures,
so each test takes well under a second; the page itself runs in tests/e2e/test_concepts_browser.py.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch.nn as nn
import traitlets
from PIL import Image

import actwidgets as aw
from actwidgets.concepts import payload
from actwidgets.concepts.store import ConceptsFileError


def _net(seed: int = 0) -> aw.Network:
    import torch

    torch.manual_seed(seed)
    return aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()), input_size=16)


def _pictures(k: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (20, 20, 3), dtype=np.uint8) for _ in range(k)]


@pytest.fixture(scope="module")
def net():
    return _net()


@pytest.fixture(scope="module")
def concepts(net):
    return aw.layer_concepts(net, _pictures(), "0", n=3, top=2, progress=False)


@pytest.fixture()
def view(concepts):
    return aw.ConceptView(concepts)


def test_the_state_and_what_the_page_gets(view, concepts):
    assert view.image == "image 0" and view.concept == -1 and view._meta["n"] == 3
    assert view._meta["images"] == [f"image {i}" for i in range(4)]
    n, h, w = concepts.maps.shape[1:]
    assert len(view._maps) == n * h * w + 4 * n and len(view._picture) == 16 * 16 * 3
    back = payload.maps_from_payload(view._image, view._maps)
    top = concepts.maps[0].reshape(n, -1).max(axis=1).reshape(-1, 1, 1)
    assert np.all(np.abs(back - concepts.maps[0]) <= top / 255 / 2 + 1e-6)
    serial = view._image["serial"]
    view.concept, view.hidden, view.alpha = 1, [0], 0.5       # drawn in the page: nothing sent
    assert view._image["serial"] == serial
    np.testing.assert_array_equal(view.picture, concepts.picture(0, [1], alpha=0.5))
    view.concept = -1
    np.testing.assert_array_equal(view.picture, concepts.picture(0, [1, 2], alpha=0.5))
    view.image = "image 2"                                     # a new image: its maps sent once
    assert view._image["serial"] > serial and view._image["image"] == "image 2"
    with Image.open(io.BytesIO(view.png)) as im:
        np.testing.assert_array_equal(np.asarray(im), concepts.picture(2, [1, 2], alpha=0.5))
    assert view._meta["legend"][0]["channels"] == concepts.top_channels(0, 3)
    assert len(view._meta["legend"][0]["patches"]) == len(concepts.top(0, 6))


def test_images_passed_in_are_projected(concepts):
    extra = np.full((24, 24, 3), 90, np.uint8)
    view = aw.ConceptView(concepts, {"grey": extra}, image="grey", concept=0)
    np.testing.assert_allclose(view.maps, concepts.project(extra), rtol=1e-6)
    assert view._meta["images"][-1] == "grey"


def test_names_for_the_collections_images(concepts):
    view = aw.ConceptView(concepts, names=list("abcd"), image="c")
    np.testing.assert_array_equal(view.maps, concepts.maps[2])
    first = concepts.top(0, 1)[0].index
    assert view._meta["legend"][0]["patches"][0]["caption"].startswith("abcd"[first] + " · ")
    with pytest.raises(ValueError, match="one name per image"):
        aw.ConceptView(concepts, names=["a"])


def test_an_upload_from_the_page_is_projected_and_shown(view, concepts):
    photo = np.zeros((30, 30, 3), np.uint8)
    photo[5:20, 5:20] = (200, 40, 90)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "PNG")
    view._on_message(view, {"event": "upload", "name": "mine.png"}, [buf.getvalue()])
    assert view.image == "mine.png" and view._meta["images"][-1] == "mine.png"
    assert view._image["image"] == "mine.png"
    np.testing.assert_allclose(view.maps, concepts.project(photo), rtol=1e-6)
    view._on_message(view, {"event": "upload", "name": "broken.png"}, [b"not a picture"])
    assert "broken.png" in view.error and view.image == "mine.png"
    assert "broken.png" not in view._meta["images"]


def test_bad_values_show_a_sentence_and_go_back(view):
    for name, bad, words in (("concept", 7, "there are 3 concepts"), ("alpha", 1.5, "opacity"),
                             ("hidden", [5], "not 5"), ("image", "nowhere", "no image named")):
        before = getattr(view, name)
        with pytest.raises(traitlets.TraitError, match=words):   # from code: to the caller
            setattr(view, name, bad)
        view.set_state({name: bad})                               # from the page: in the page
        assert words in view._message and getattr(view, name) == before
    view.concept = 2                                              # and it goes on working
    assert view.error == "" and view.which == [2]


def test_no_maps_and_no_images_is_refused_with_the_way_out(net):
    c = aw.layer_concepts(net, _pictures(), "0", n=2, keep_maps=False, progress=False)
    with pytest.raises(ValueError, match="images="):
        aw.ConceptView(c)
    assert aw.ConceptView(c, [_pictures(1)[0]]).image == "picture 0"


def test_feature_visualisation_in_the_background_and_stop(view):
    assert view.stop() is False                                   # nothing runs
    assert view.visualize() is False and "pick a concept" in view.error
    with pytest.raises(TypeError, match="takes method, steps, size and seed"):
        view.visualize(1, step=3)
    assert view.visualize(1, background=False, steps=3, size=32)
    pic = view.featurevis(1)
    assert pic.shape == (32, 32, 3) and pic.dtype == np.uint8
    assert view._fv["1"]["src"].startswith("data:image/png;base64,") and not view._fv["1"]["running"]
    view.concept = 0
    view._on_message(view, {"event": "visualize", "concept": 0}, [])   # the page's button
    view._on_message(view, {"event": "stop", "concept": 0}, [])
    assert view.wait(120)
    assert not view._fv["0"]["running"] and view._fv["0"]["status"]


def test_the_exported_page_runs_the_widgets_module(view, tmp_path):
    from actwidgets.export import concepts_page

    view.concept = 1
    path = view.export_html(tmp_path / "c.html", images=["image 0", "image 3"], verbose=False)
    page = path.read_text(encoding="utf-8")
    script = re.search(r'<script type="module">\n(.*?)</script>', page, re.S).group(1)
    esm = str(aw.ConceptView._esm)
    assert script.startswith(esm) and script.strip() == concepts_page.page_script().strip()
    rest = script[len(esm):]
    assert "export default" not in rest and "function renderConcepts" not in rest
    here = Path(concepts_page.__file__).parent
    shim, own = ((here / n).read_text().strip() for n in ("shim.js", "concepts_page.js"))
    assert rest.strip() == shim + "\n\n" + own
    assert '"concept":1' in page and '"kernel":false' in page and "http" not in script
    with pytest.raises(ValueError, match="no image named"):
        view.export_html(tmp_path / "d.html", images=["elsewhere"])
    with pytest.raises(ValueError, match=".html"):
        view.export_html(tmp_path / "d.png")


def test_save_and_load_round_trip(concepts, net, tmp_path):
    path = concepts.save(tmp_path / "c.npz")
    back = aw.Concepts.load(path, net)
    for name in ("loadings", "maps", "scale", "has_maps"):
        np.testing.assert_array_equal(getattr(back, name), getattr(concepts, name))
    assert (back.layer, back.stage, back.explained, back.sample) == (
        concepts.layer, concepts.stage, concepts.explained, concepts.sample)
    assert back.source is None                                   # arrays in memory: not files
    with pytest.raises(ValueError, match="images="):
        back.picture(0)
    again = aw.Concepts.load(path, net, images=_pictures())      # given again, checked
    assert [e.index for e in again.top(0)] == [e.index for e in concepts.top(0)]
    np.testing.assert_array_equal(again.picture(1), concepts.picture(1))
    with pytest.raises(ConceptsFileError, match="not the 4 images"):
        aw.Concepts.load(path, net, images=_pictures(3))


def test_load_refuses_another_network_with_the_way_out(concepts, tmp_path):
    path = concepts.save(tmp_path / "c.npz")
    with pytest.raises(ConceptsFileError, match="weights' values.*aw.layer_concepts"):
        aw.Concepts.load(path, _net(seed=1))
    wider = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU()), input_size=16)
    with pytest.raises(ConceptsFileError, match="channels"):
        aw.Concepts.load(path, wider)
    other = aw.Network.wrap(nn.Sequential(nn.Conv2d(3, 4, 3)), input_size=16)
    with pytest.raises(ConceptsFileError, match="compute them again"):
        aw.Concepts.load(path, other)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ConceptsFileError, match="damaged"):
        aw.Concepts.load(tmp_path / "bad.npz", _net())
    with pytest.raises(ConceptsFileError, match="no such"):
        aw.Concepts.load(tmp_path / "none.npz", _net())


def test_files_come_back_with_their_pictures(net, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, p in enumerate(_pictures(3)):
        Image.fromarray(p).save(folder / f"p{i}.png")
    c = aw.layer_concepts(net, folder, "0", n=2, top=2, progress=False)
    back = aw.Concepts.load(c.save(tmp_path / "f.npz"), net)
    assert back.source is not None and back.top(0)[0].path == c.top(0)[0].path
    view = aw.ConceptView(back)
    assert view._meta["images"] == ["p0.png", "p1.png", "p2.png"]
