"""A :class:`~actwidgets.ConceptView` as one self-contained HTML page: offline, no kernel.

The page runs the view's own ES module (``frontend/draw.js`` + ``controls.js`` +
``concepts.js``, verbatim), then ``shim.js`` + ``concepts_page.js``, which give it a model over
the data inlined in the page: the concepts' description (colours, scales, loadings, top
channels, top patches, feature visualisations computed so far) and per image its maps as the
kernel sends them (8-bit levels and each map's largest value, base64) and its pixels (a PNG
data URI).

>>> import actwidgets as aw, tempfile, os
>>> net = aw.load_model("squeezenet", weights=None)
>>> c = aw.layer_concepts(net, "face", "fire6-relu_squeeze1x1", n=3, progress=False)
>>> path = aw.ConceptView(c).export_html(os.path.join(tempfile.mkdtemp(), "c.html"), verbose=False)
>>> path.name, path.stat().st_size < 400_000
('c.html', True)
"""

from __future__ import annotations

import base64
import html as _html
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from ..concepts import payload

__all__ = ["export_concepts_html", "concepts_page", "page_script"]


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def page_script() -> str:
    """The page's one script: the view's ES module (the widget's ``_esm``, verbatim), then
    ``shim.js`` + ``concepts_page.js``, the model over the inlined data."""
    from .. import frontend
    from .html import page_model

    module = frontend.module_text("draw.js", "controls.js", "concepts.js")
    return module + "\n" + page_model("concepts_page.js")


def _images(view: Any, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        rgb, maps = view._data(name)
        meta, data = payload.maps_payload(maps)
        out.append({"shape": meta["shape"], "maps": base64.b64encode(data).decode("ascii"),
                    "picture": payload.picture_uri(rgb)})
    return out


def concepts_page(view: Any, images: Any = None) -> str:
    """The page's HTML for ``view`` (a ConceptView), opening on its state; ``images``: the
    names of the images to include (default: the one shown)."""
    from .. import __version__, frontend

    names = [view.image] if images is None else [images] if isinstance(images, str) else list(images)
    unknown = [n for n in names if n not in view._offer]
    if unknown or not names:
        raise ValueError(f"no image named {unknown[0] if unknown else None!r} in this view; choose "
                         f"from {list(view._offer)[:8]}")
    meta = {**view._meta, "images": names, "kernel": False}
    initial = {"image": view.image if view.image in names else names[0], "concept": view.concept,
               "hidden": list(view.hidden), "alpha": view.alpha}
    fv = {k: {**v, "running": False} for k, v in view._fv.items() if v.get("src")}
    data = {"meta": meta, "initial": initial, "fv": fv, "images": _images(view, names)}
    c = view.concepts
    title = _html.escape(f"The concepts of {c.layer} in {c.net.name}")
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    css = frontend.stylesheet("concepts.css").strip() + "\n" + _asset("page.css").strip()
    page = _asset("template.html").replace("{{CSS}}", css)
    page = page.replace("{{JS}}", page_script()).replace("{{TITLE}}", title)
    return page.replace("{{VERSION}}", __version__).replace("{{DATA}}", text)


def export_concepts_html(view: Any, path: str | os.PathLike, *, images: Any = None,
                         verbose: bool = True) -> Path:
    """Write ``view``'s page (:func:`concepts_page`) to ``path`` (``.html``, in a folder that
    exists); returns the path."""
    out = Path(path).expanduser()
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError("a concepts page is written as .html; give a path ending in .html, "
                         f"got {out.name!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"cannot write {out.name!r}: the folder {str(out.parent)!r} does not "
                                "exist; create it first (os.makedirs(folder)) or choose another path")
    page = concepts_page(view, images)
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(page)
    if verbose:
        print(f"export_html: wrote {out} ({len(page.encode('utf-8')) / 1e6:.2f} MB)")
    return out
