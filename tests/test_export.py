"""Tests for actwidgets.export: the self-contained explorer page (issue 14).

The page's pictures are decoded back with Pillow and compared with what the widget draws
(``actwidgets.pixels.render_grid``, and the ActivationExplorer itself): the 8-bit levels before
the colormap and the colour-mapped grid, exactly. Sizes: the estimate against the file, the
25 MB budget of one image and every SqueezeNet layer, the refusal over ``max_mb``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import actwidgets as aw
from actwidgets import pixels
from actwidgets.capture import activations
from actwidgets.export import CMAPS, ExportTooLargeError, StaticExplorer, export_html, static_explorer
from actwidgets.export import data as _data

LAYERS = ["conv1", "relu_conv1", "pool1", "fire2-squeeze1x1", "fire6-concat", "conv10", "pool10"]
URL = re.compile(r"\b(?:https?|ftp|wss?)://", re.I)


@pytest.fixture(scope="module")
def net():
    return aw.load_model("squeezenet", weights=None)


@pytest.fixture(scope="module")
def page(net) -> StaticExplorer:
    return static_explorer(net, ["face", "cat"], LAYERS, cmap="viridis")


def payload(page_html: str) -> dict:
    """The JSON the page reads (its ``#aw-data`` script)."""
    found = re.search(r'<script type="application/json" id="aw-data">(.*?)</script>', page_html, re.S)
    assert found, "the page has no #aw-data script"
    return json.loads(found.group(1))


def png_of(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def table(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), np.uint8).reshape(-1, 3)


def tiles_of(sheet: np.ndarray, shape: list[int], cols: int) -> np.ndarray:
    """The (C, h, w) levels of a sprite sheet."""
    c, h, w = shape
    rows = -(-c // cols)
    return sheet.reshape(rows, h, cols, w).transpose(0, 2, 1, 3).reshape(rows * cols, h, w)[:c]


def grid_index(levels: np.ndarray, grid: list[int], selected: int) -> np.ndarray:
    """The grid as the page draws it: tiles enlarged, padding 254, the selected tile's ring 255."""
    rows, cols, scale, pad, height, width = grid
    layout = pixels.GridLayout(rows, cols, levels.shape[1] * scale, levels.shape[2] * scale, scale,
                               pad, height, width)
    canvas = np.full((height, width), 254, np.uint8)
    big = pixels.enlarge(levels, scale, axis=1)
    for c in range(len(levels)):
        x0, y0, x1, y1 = layout.box(c)
        canvas[y0:y1, x0:x1] = big[c]
    pixels.outline(canvas, layout.box(selected), 255, width=2, outside=min(pad, 2))
    return canvas


def point_of(d: dict, layer: str, stage: str) -> int:
    """The index of the point the page shows for ``layer`` at ``stage``."""
    li = [x["name"] for x in d["meta"]["layers"]].index(layer)
    return d["layerPoints"][li][0 if stage == "pre" else 1]


def channel_of(page_html: str, image: str, layer: str, stage: str, contrast: str) -> tuple[np.ndarray, dict]:
    """The (C, h, w) levels of a layer in the page, and what the page knows of the layer (its
    entry in the module's meta, with the point's grid)."""
    d = payload(page_html)
    i = d["meta"]["images"].index(image)
    p = point_of(d, layer, stage)
    sheet = png_of(d["sheets"][i][p][d["meta"]["contrasts"].index(contrast)])
    L = {**next(x for x in d["meta"]["layers"] if x["name"] == layer), "grid": d["points"][p]["grid"]}
    return tiles_of(sheet, d["points"][p]["shape"], d["points"][p]["cols"]), L


# --------------------------------------------------------------------------- pictures


@pytest.mark.parametrize("contrast", ["minmax", "stretch"])
def test_levels_and_colours_equal_the_widgets_grid(net, page, contrast):
    d = payload(page.html)
    for image in ("face", "cat"):
        for layer in LAYERS:
            info = net.layers[layer]
            for stage in ("pre", "post"):
                # "both": a layer without stages gives its one value as both
                acts = activations(net, aw.sample_image(image), layer, stage="both")[stage]
                levels, L = channel_of(page.html, image, layer, stage, contrast)
                assert levels.dtype == np.uint8 and levels.shape == acts.shape
                for c in sorted({0, len(acts) - 1}):
                    want = pixels.render_grid(acts, selected=c, cmap="viridis", contrast=contrast)
                    got = grid_index(levels, L["grid"], c)
                    np.testing.assert_array_equal(got, want.index, err_msg=f"{image} {layer} {stage} {c}")
                    rgb = table(d["meta"]["cmaps"]["viridis"]["grid"])[got]  # the page's lookup, in numpy
                    np.testing.assert_array_equal(rgb, np.asarray(want))
            assert L["stages"] == info.has_stages


def test_levels_are_the_normalised_channels(net, page):
    acts = activations(net, aw.sample_image("cat"), "fire2-squeeze1x1", stage="post")
    for contrast in ("minmax", "stretch"):
        levels, _ = channel_of(page.html, "cat", "fire2-squeeze1x1", "post", contrast)
        want = pixels.to_levels(pixels.normalize_channels(acts, contrast), 254)
        np.testing.assert_array_equal(levels, want)


def test_colour_tables_are_the_widgets(page):
    d = payload(page.html)["meta"]
    assert set(CMAPS) <= set(d["cmaps"])
    assert {"gray", "viridis"} <= {n for n, t in d["cmaps"].items() if t["offer"]}
    for name, t in d["cmaps"].items():
        np.testing.assert_array_equal(table(t["lut"]), pixels.colormap_lut(name))
        want = pixels.render_grid(np.zeros((1, 2, 2)), selected=0, cmap=name).palette
        np.testing.assert_array_equal(table(t["grid"]), want)
    assert d["cmaps"]["gray"]["overlay"] == "jet" and d["cmaps"]["viridis"]["overlay"] == "viridis"


def test_the_grid_equals_the_explorers_picture(net):
    """The explorer's own PNG of a grid, against the exported levels through the page's LUT,
    for the channel it opens on and for one it is moved to (the outline moves with it)."""
    face = net.image(aw.sample_image("face"))
    explorer = aw.ActivationExplorer(net, {"face": face}, layer="fire6-squeeze1x1", channel=5, cmap="hot",
                                     contrast="stretch")
    exported = static_explorer(net, {"face": face}, ["fire6-squeeze1x1"], cmaps=["hot"])
    levels, L = channel_of(exported.html, "face", "fire6-squeeze1x1", explorer.stage, "stretch")
    lut = table(payload(exported.html)["meta"]["cmaps"]["hot"]["grid"])
    shown = []
    for channel in (5, 17):
        explorer.channel = channel
        with Image.open(io.BytesIO(explorer.png)) as im:
            shown.append(np.asarray(im.convert("RGB")))
        np.testing.assert_array_equal(lut[grid_index(levels, L["grid"], channel)], shown[-1])
    assert not np.array_equal(*shown)


def test_images_are_what_the_network_sees(net, page):
    d = payload(page.html)
    assert d["meta"]["images"] == ["face", "cat"]
    np.testing.assert_array_equal(png_of(d["images"][1]), net.image(aw.sample_image("cat")))


# --------------------------------------------------------------------------- one front end


def module_script(page_html: str) -> str:
    found = re.search(r'<script type="module">\n(.*?)</script>', page_html, re.S)
    assert found, "the page has no module script"
    return found.group(1)


def test_the_page_runs_the_widgets_module(page):
    """One front end: the exported page's script is the widget's ES module, verbatim, then the
    page's model over the inlined data; no second copy of the views or the UI strings."""
    from actwidgets import frontend
    from actwidgets.export import html as export_html_module

    esm = aw.ActivationExplorer._esm
    esm = esm if isinstance(esm, str) else str(esm)
    script = module_script(page.html)
    assert script.startswith(esm) and esm == frontend.module_text()
    rest = script[len(esm):]
    assert "export default" not in rest and "function render" not in rest
    here = Path(export_html_module.__file__).parent
    shim, page_js = ((here / n).read_text(encoding="utf-8").strip() for n in ("shim.js", "page.js"))
    assert rest.strip() == shim + "\n\n" + page_js
    root = Path(frontend.__file__).parent
    parts = ((root / n).read_text(encoding="utf-8").strip() for n in frontend.PARTS)
    assert esm == "".join(part + "\n\n" for part in parts)[:-1]
    assert not (Path(export_html_module.__file__).parent / "pictures.js").exists()
    # The UI strings are the module's: none in the page template.
    template = (Path(export_html_module.__file__).parent / "template.html").read_text(encoding="utf-8")
    for words in ("strongest channel", "pre-ReLU", "percentile", "Click a tile"):
        assert words not in template and words in esm


def test_the_page_and_the_widget_describe_the_network_alike(net):
    explorer = aw.ActivationExplorer(net, layer="fire6-relu_squeeze1x1", channel=13)
    d = payload(static_explorer(net, "face", None).html)
    same = ("net", "layers", "groups", "outline", "alpha", "display")
    assert {k: d["meta"][k] for k in same} == {k: explorer._meta[k] for k in same}
    assert d["meta"]["upload"] is False and explorer._meta["upload"] is True
    p = point_of(d, "fire6-relu_squeeze1x1", explorer.stage)
    assert d["stats"][0][p] == explorer._layer["stats"]  # the stats line's numbers
    assert d["points"][p] == {k: explorer._layer[k] for k in d["points"][p]}
    values = np.frombuffer(base64.b64decode(d["values"][0][p]), "<f4")
    np.testing.assert_array_equal(values, np.frombuffer(explorer._levels[-4 * len(values):], "<f4"))
    st = d["stats"][0][p]
    assert explorer.stats == (f"fire6-relu_squeeze1x1 (post-ReLU) · 48×14×14 · min {st['min']} · "
                              f"max {st['max']} · zeros {st['zeros']}% · channel 13: "
                              f"max {st['cmax'].split()[13]}, mean {st['cmean'].split()[13]}")
    explorer.select_strongest()
    assert st["strongest"] == explorer.channel


def test_every_layer_and_block_as_in_the_catalogue(net, page):
    d = payload(page.html)
    layers = d["meta"]["layers"]
    assert [x["name"] for x in layers] == LAYERS
    assert [x["label"] for x in layers] == [net.layers[n].label for n in LAYERS]
    assert d["meta"]["groups"][layers[0]["home"]]["label"] == "conv1 (3)"
    # conv1 and relu_conv1 share their two points: stored once
    assert d["layerPoints"][0] == d["layerPoints"][1]
    assert len(d["points"]) == 9 and layers[2]["stages"] is False


# --------------------------------------------------------------------------- sizes


def _write(net, tmp_path, name, **kw):
    images, layers = kw.pop("images", "face"), kw.pop("layers", None)
    return export_html(net, images, layers, tmp_path / name, verbose=False, **kw)


def test_the_estimate_is_within_ten_percent(net, tmp_path, capsys):
    out = export_html(net, "face", None, tmp_path / "all.html")
    said = capsys.readouterr().out
    assert "about" in said and "MB" in said and said.index("about") < said.index("wrote")
    assert out.bytes == (tmp_path / "all.html").stat().st_size
    assert abs(out.bytes / out.estimated_bytes - 1) < 0.1, (out.bytes, out.estimated_bytes)
    small = _write(net, tmp_path, "small.html", layers=["fire6", "fire7"])
    assert abs(small.bytes / small.estimated_bytes - 1) < 0.1, (small.bytes, small.estimated_bytes)
    print(f"\nall 64 layers, 1 image: {out.bytes / 1e6:.2f} MB (estimated {out.estimated_bytes / 1e6:.2f});"
          f" fire6 + fire7: {small.bytes / 1e6:.2f} MB (estimated {small.estimated_bytes / 1e6:.2f})")


def _budget(net, tmp_path):
    start = time.perf_counter()
    out = _write(net, tmp_path, "default.html")
    seconds = time.perf_counter() - start
    print(f"\n{net.weights}: one image, every layer, both stages: {out.bytes / 1e6:.2f} MB "
          f"in {seconds:.1f} s")
    assert out.bytes <= 25e6
    return out


def test_one_image_every_layer_fits_25_mb(net, tmp_path):
    _budget(net, tmp_path)


@pytest.mark.weights
def test_one_image_every_layer_fits_25_mb_with_real_weights(squeezenet, tmp_path):
    _budget(squeezenet, tmp_path)


def test_choosing_layers_makes_it_proportionally_smaller(net, tmp_path):
    a = _write(net, tmp_path, "a.html", layers=["fire2", "fire3"])
    b = _write(net, tmp_path, "b.html", layers=["fire8", "fire9"])
    both = _write(net, tmp_path, "ab.html", layers=["fire2", "fire3", "fire8", "fire9"])
    empty = static_explorer(net, "face", ["pool10"], contrasts=["minmax"]).bytes  # about the fixed part
    assert abs((a.bytes + b.bytes - empty) / both.bytes - 1) < 0.05
    assert sum(both.by_layer.values()) == pytest.approx(both.estimated_bytes - empty, rel=0.05)
    one = _write(net, tmp_path, "one.html", layers=["fire2", "fire3"], contrasts=["minmax"])
    assert 0.4 < (one.bytes - empty) / (a.bytes - empty) < 0.6  # one contrast: half the pictures


def test_max_mb_refuses_naming_the_costliest_layers(net, tmp_path):
    path = tmp_path / "big.html"
    with pytest.raises(ExportTooLargeError, match=r"max_mb=2\b") as err:
        export_html(net, "face", None, path, max_mb=2, verbose=False)
    message = str(err.value)
    costly = re.search(r"cost most: (.*?)\. ", message).group(1)
    assert costly.startswith("conv1 ") or costly.startswith("relu_conv1 "), message
    assert "relu_conv1" in costly and "shared with conv1" in costly and "MB" in costly
    assert not path.exists()
    assert isinstance(err.value, ValueError)
    assert _write(net, tmp_path, "ok.html", layers=["fire9"], max_mb=2).bytes < 2e6


# --------------------------------------------------------------------------- self-contained


def test_nothing_is_fetched(page):
    text = page.html
    assert not URL.search(text), URL.search(text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    for pattern in (r"<link\b", r"@import", r"\burl\(", r"<iframe\b", r"\bfetch\(", r"XMLHttpRequest",
                    r"\bimport\("):
        assert not re.search(pattern, text), pattern
    markup = text[:text.index('<script type="application/json"')]
    sources = re.findall(r"""\b(?:src|href|action|poster|srcset)\s*=\s*["']?([^"'\s>]*)""", markup)
    assert all(s.startswith("data:") for s in sources), sources
    assert text.count("<script") == 2 and "</script>" not in payload_text(text)


def payload_text(text: str) -> str:
    start = text.index('id="aw-data">') + len('id="aw-data">')
    return text[start:text.index("</script>", start)]


def test_the_page_says_what_it_shows(net, page):
    d = payload(page.html)
    assert d["meta"]["net"] == {"name": "squeezenet", "weights": "RANDOM weights", "pretrained": False,
                        "input": [227, 227]}
    assert "<title>What squeezenet sees, layer by layer</title>" in page.html
    assert 'name="viewport"' in page.html and 'lang="en"' in page.html
    assert d["initial"] == {"image": "face", "layer": "conv1", "stage": "pre", "channel": 0, "view": "grid",
                            "cmap": "viridis", "contrast": "minmax"}


def test_in_a_notebook_it_is_a_sandboxed_iframe(page):
    out = page._repr_html_()
    frame = re.match(r'<iframe ([^>]*)></iframe>', out)
    assert frame, out[:200]
    assert 'sandbox="allow-scripts"' in frame.group(1) and "allow-same-origin" not in frame.group(1)
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame.group(1)).group(1)
    assert html.unescape(srcdoc) == page.html
    assert not URL.search(out)
    assert repr(page).startswith("StaticExplorer(squeezenet, 2 images, 7 layers, ")


# --------------------------------------------------------------------------- arguments


def test_images_layers_and_state_arguments(net):
    sel = _data.select(net, None, "fire6")
    assert list(sel.images) == ["face"] and [x.name for x in sel.layers][0] == "fire6-squeeze1x1"
    assert len(sel.layers) == 7
    sel = _data.select(net, {"mine": np.zeros((50, 60, 3), np.uint8)}, ["features.3.squeeze", 0])
    assert list(sel.images) == ["mine"] and [x.name for x in sel.layers] == ["conv1", "fire2-squeeze1x1"]
    assert sel.images["mine"].shape == (227, 227, 3)
    with pytest.raises(KeyError, match="Closest"):
        _data.select(net, "face", ["fire6-squeez1x1"])
    with pytest.raises(ValueError, match="contrasts"):
        _data.select(net, "face", "pool1", contrasts=["loud"])
    with pytest.raises(TypeError, match="Network"):
        _data.select(object(), "face", "pool1")
    with pytest.raises(IndexError, match="index 999 is out of range: there are 64 layers"):
        _data.select(net, "face", [999])


@pytest.mark.parametrize("kw, match", [
    ({"image": "dog"}, "not among the exported images"),
    ({"layer": "conv10"}, "not among the exported layers"),
    ({"channel": 64}, "out of range"),
    ({"view": "tiles"}, "view must be one of"),
    ({"cmap": "viridsi"}, "unknown colormap"),
    ({"stage": "middle"}, "stage must be"),
    ({"contrast": "stretch", "contrasts": ["minmax"]}, "not among the exported contrasts"),
])
def test_a_bad_first_state_is_refused(net, kw, match):
    with pytest.raises(ValueError, match=match):
        static_explorer(net, "face", ["conv1"], **kw)


def test_the_path_must_be_html(net, tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        export_html(net, "face", "pool10", tmp_path / "page.png", verbose=False)


def test_a_missing_folder_is_named_before_any_work(net, tmp_path, monkeypatch):
    monkeypatch.setattr(_data, "collect", lambda sel: pytest.fail("worked before checking the folder"))
    with pytest.raises(FileNotFoundError, match=r"the folder .*nope.* does not exist; create it first"):
        export_html(net, "face", "pool10", tmp_path / "nope" / "page.html", verbose=False)
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("max_mb", [0, -5, float("nan"), "25"])
def test_max_mb_must_be_a_positive_number(net, tmp_path, max_mb):
    with pytest.raises(ValueError, match=r"max_mb must be a positive number of megabytes"):
        export_html(net, "face", "pool10", tmp_path / "page.html", max_mb=max_mb, verbose=False)
    with pytest.raises(ValueError, match=r"max_mb must be a positive number"):
        static_explorer(net, "face", "pool10", max_mb=max_mb)


def test_importing_actwidgets_does_not_import_the_export():
    code = ("import sys, actwidgets as aw; assert 'actwidgets.export' not in sys.modules; "
            "aw.export_html; assert 'actwidgets.export' in sys.modules; "
            "assert 'ipywidgets' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_an_explorer_exports_what_it_shows(tmp_path):
    import re as _re

    net = aw.load_model("squeezenet", weights=None)
    explorer = aw.ActivationExplorer(net, {"mine": aw.sample_image("cat")})
    explorer.layer, explorer.channel, explorer.view = "fire2-squeeze1x1", 5, "channel"
    out = explorer.export_html(tmp_path / "lesson.html", layers=["fire2"], verbose=False)
    page = out.path.read_text(encoding="utf-8")
    assert "fire2-squeeze1x1" in page and "fire3-squeeze1x1" not in page
    assert '"mine"' in page and out.bytes < 3e6
    with pytest.raises(ValueError, match="no image named"):
        explorer.export_html(tmp_path / "x.html", images=["nope"], verbose=False)
    assert _re.search(r'"channel":\s*5', page)
