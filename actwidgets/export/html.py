"""One self-contained HTML page per explorer: ``export_html`` writes it, ``static_explorer``
shows it in a notebook (an ``<iframe srcdoc>``, so converted notebooks keep it).

The page holds, for each chosen image, every channel of every chosen layer at both stages as
8-bit greyscale PNG sprite sheets (data URIs), the numbers of the stats line, 256-entry colour
tables, and its own JavaScript and CSS: it works from ``file://``, offline, with no kernel.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> page = aw.static_explorer(net, "face", ["fire6-squeeze1x1", "fire6-relu_squeeze1x1"])
>>> page
StaticExplorer(squeezenet, 1 image, 2 layers, ... MB)
>>> page._repr_html_()[:33]
'<iframe class="aw-static" title="'
"""

from __future__ import annotations

import base64
import dataclasses
import html as _html
import itertools
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..explorer_state import ExplorerState
from ..pixels.views import CMAPS, CONTRAST_LABELS, VIEWS
from . import data as _data
from . import size as _size
from .data import Selection

__all__ = ["export_html", "static_explorer", "StaticExplorer", "ExportResult", "ExplorerState", "CMAPS",
           "VIEWS"]

DISPLAY_PX = 454  # as the module: small pictures enlarged by an integer factor up to about this
_ids = itertools.count(1)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def page_model(name: str) -> str:
    """A page's model over the inlined data: ``shim.js`` (the model every exported page has),
    then the page's own file ``name``."""
    return _asset("shim.js").strip() + "\n\n" + _asset(name).strip() + "\n"


def page_script() -> str:
    """The page's one script: the explorer's ES module (the widget's ``_esm``, verbatim),
    then its model over the inlined data (:func:`page_model` of ``page.js``)."""
    from .. import frontend

    return frontend.module_text() + "\n" + page_model("page.js")


def _initial(sel: Selection, state: ExplorerState) -> dict[str, Any]:
    """The page's first state, checked and filled in as the explorer does (:class:`ExplorerState`)."""
    done = state.resolved(sel.net, images=list(sel.images), layers=sel.layers,
                          contrasts=sel.contrasts, owner="the page's first state",
                          what="exported images")
    return dataclasses.asdict(done)


def _payload(sel: Selection, data: dict[str, dict[str, Any]], initial: dict[str, Any],
             cmaps: tuple[str, ...]) -> dict[str, Any]:
    """Everything the page reads, with every sheet an empty string (filled in later): the
    module's ``_meta`` and first state, and per image and point what the kernel would send."""
    from .. import frontend

    first = data[next(iter(data))]
    index = {p: i for i, p in enumerate(sel.points)}
    shapes = {p: first[p].levels[sel.contrasts[0]].shape for p in sel.points}
    return {
        "meta": frontend.network_meta(sel.net, sel.layers, list(sel.images), contrasts=sel.contrasts,
                                      cmaps=cmaps),
        "initial": initial,
        "images": [_size.data_uri(_size.png_bytes(p)) for p in sel.images.values()],
        "layerPoints": [[index[info.pre], index[info.post]] for info in sel.layers],
        "points": [frontend.point_meta(shapes[p], sel.contrasts) for p in sel.points],
        "stats": [[data[n][p].stats for p in sel.points] for n in sel.images],
        "values": [[base64.b64encode(np.asarray(data[n][p].values, "<f4").tobytes()).decode("ascii")
                    for p in sel.points] for n in sel.images],
        "sheets": [[["" for _ in sel.contrasts] for _ in sel.points] for _ in sel.images],
    }


def _page(payload: dict[str, Any]) -> str:
    """The HTML page: template, CSS, the script and the payload as JSON (no ``</script>``)."""
    from .. import __version__, frontend

    title = _html.escape(f"What {payload['meta']['net']['name']} sees, layer by layer")
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    css = frontend.stylesheet().strip() + "\n" + _asset("page.css").strip()
    page = _asset("template.html").replace("{{CSS}}", css)
    page = page.replace("{{JS}}", page_script()).replace("{{TITLE}}", title)
    return page.replace("{{VERSION}}", __version__).replace("{{DATA}}", data)


@dataclass
class _Plan:
    """A page before its sheets are encoded: what it holds and how large it will be."""

    sel: Selection
    data: dict[str, dict[str, Any]]
    payload: dict[str, Any]
    estimated_bytes: int
    by_layer: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        sel, n_img = self.sel, len(self.sel.images)
        top = sorted(self.by_layer.items(), key=lambda kv: -kv[1])[:3]
        costly = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in top)
        return (f"{sel.net.name}, {n_img} image{'s' * (n_img != 1)} × {len(sel.layers)} layers, both "
                f"stages, {' and '.join(CONTRAST_LABELS[c] for c in sel.contrasts)} contrast: about "
                f"{self.estimated_bytes / 1e6:.1f} MB"
                f" (most: {costly})")


def _plan(net: Any, images: Any, layers: Any, state: ExplorerState, contrasts: Any,
          cmaps: Any) -> _Plan:
    """Select, compute the levels and statistics, and estimate the page's size."""
    sel = _data.select(net, images, layers, contrasts)
    offer = tuple(dict.fromkeys([*(CMAPS if cmaps is None else cmaps), state.cmap]))
    initial = _initial(sel, state)
    data = _data.collect(sel)
    payload = _payload(sel, data, initial, offer)
    fixed = len(_page(payload).encode("utf-8"))
    per_point = {p: sum(_size.uri_length(_size.estimate_png(d[p].levels[c]))
                        for d in data.values() for c in sel.contrasts) for p in sel.points}
    by_layer = _size.share_by_layer(per_point, [(info.name, (info.pre, info.post)) for info in sel.layers])
    return _Plan(sel, data, payload, int(round(fixed + sum(per_point.values()))), by_layer)


def _check_max_mb(max_mb: Any) -> None:
    """``max_mb`` is None or a positive number, else a ValueError that says so."""
    number = isinstance(max_mb, (int, float, np.integer, np.floating)) and not isinstance(max_mb, bool)
    if max_mb is not None and not (number and max_mb > 0):
        raise ValueError(f"max_mb must be a positive number of megabytes, such as 25, or None for no "
                         f"limit; got {max_mb!r}")


def _check_folder(path: str | os.PathLike) -> None:
    """The folder the page goes into exists (checked before any work), else a clear sentence."""
    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {Path(path).name!r}: the folder {str(folder)!r} does not "
                                "exist; create it first (os.makedirs(folder)) or choose another path")


def _check(plan: _Plan, max_mb: float | None) -> None:
    if max_mb is None or plan.estimated_bytes <= max_mb * 1e6:
        return
    owner: dict[tuple[str, str], str] = {}
    shared = {}
    for info in plan.sel.layers:
        key = (info.pre, info.post)
        if key in owner:
            shared[info.name] = owner[key]
        owner.setdefault(key, info.name)
    raise _size.refusal(plan.estimated_bytes, max_mb, plan.by_layer, shared)


def _build(plan: _Plan) -> str:
    """Encode every sheet into the payload; the finished page."""
    sheets = plan.payload["sheets"]
    for i, d in enumerate(plan.data.values()):
        for j, p in enumerate(plan.sel.points):
            for k, c in enumerate(plan.sel.contrasts):
                sheets[i][j][k] = _size.data_uri(_size.png_bytes(_size.sheet(d[p].levels[c])))
    return _page(plan.payload)


class StaticExplorer:
    """An exported explorer page that displays itself in a notebook, with no kernel needed.

    ``html`` is the page; :meth:`save` writes it; in a notebook it shows as a sandboxed
    ``<iframe srcdoc>`` that ``nbconvert --to html``, nbviewer and Jupyter Book keep working.
    """

    def __init__(self, page: str, *, name: str = "", images: int = 1, layers: int = 0,
                 estimated_bytes: int | None = None, height: int = 900) -> None:
        self.html = page
        self.name, self.n_images, self.n_layers, self.height = name, images, layers, height
        self.bytes = len(page.encode("utf-8"))
        self.estimated_bytes = self.bytes if estimated_bytes is None else estimated_bytes

    def __repr__(self) -> str:
        n = self.n_images
        return (f"StaticExplorer({self.name}, {n} image{'s' * (n != 1)}, {self.n_layers} layers, "
                f"{self.bytes / 1e6:.1f} MB)")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to ``path`` (``.html``); returns the path."""
        out = Path(path)
        if out.suffix.lower() not in (".html", ".htm"):
            raise ValueError("an explorer page is written as .html; give a path ending in .html, got "
                             f"{out.name!r}")
        with open(out, "w", encoding="utf-8", newline="") as f:
            f.write(self.html)
        return out

    def _repr_html_(self) -> str:
        uid = f"aw-static-{next(_ids)}-{abs(hash(self.html)) % 10**8}"
        title = _html.escape(f"{self.name}: static activation explorer", quote=True)
        listen = (
            "<script>(function(){var f=document.getElementById('" + uid + "');"
            "window.addEventListener('message',"
            "function(e){if(f&&e.source===f.contentWindow&&e.data&&e.data.awStaticHeight){"
            "f.style.height=e.data.awStaticHeight+'px';}});})();</script>"
        )
        return (
            f'<iframe class="aw-static" title="{title}" id="{uid}" sandbox="allow-scripts" '
            f'style="width:100%;height:{self.height}px;border:0" '
            f'srcdoc="{_html.escape(self.html, quote=True)}"></iframe>{listen}'
        )


def _height(plan: _Plan) -> int:
    """About how tall the page is on a wide screen: controls, the tallest picture, stats."""
    payload = plan.payload
    li = [entry["name"] for entry in payload["meta"]["layers"]].index(payload["initial"]["layer"])
    point = payload["points"][payload["layerPoints"][li][1]]
    h, w = point["grid"][4], point["grid"][5]
    ih, iw = payload["meta"]["net"]["input"]
    tall = max(h * max(1, DISPLAY_PX // w), ih * max(1, DISPLAY_PX // iw))
    return int(tall) + 330


def _checked_plan(what: str, net: Any, images: Any, layers: Any, first: ExplorerState, contrasts: Any,
                  cmaps: Any, max_mb: float | None, verbose: bool) -> Any:
    """The page's plan, its size estimate printed (``verbose``) and checked against ``max_mb``."""
    plan = _plan(net, images, layers, first, contrasts, cmaps)
    if verbose:
        print(f"{what}: {plan.summary()}")
    _check(plan, max_mb)
    return plan


def static_explorer(net: Any, images: Any = None, layers: Any = None, *, image: str | None = None,
                    layer: Any = None, stage: str | None = None, channel: int = 0, view: str = "grid",
                    cmap: str = "gray", contrast: str = "minmax", contrasts: Any = None,
                    cmaps: Any = None, max_mb: float | None = None, verbose: bool = False,
                    state: ExplorerState | None = None) -> StaticExplorer:
    """An explorer page for a notebook: shows inline, works without a kernel.

    Arguments as :func:`export_html` (without the path). ``verbose`` prints the size estimate.

    >>> import actwidgets as aw
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> aw.static_explorer(net, "cat", "pool10").bytes < 500_000
    True
    """
    _check_max_mb(max_mb)
    first = ExplorerState.of(state, image=image, layer=layer, stage=stage, channel=channel, view=view,
                             cmap=cmap, contrast=contrast)
    plan = _checked_plan("static_explorer", net, images, layers, first, contrasts, cmaps, max_mb, verbose)
    return StaticExplorer(_build(plan), name=net.name, images=len(plan.sel.images),
                          layers=len(plan.sel.layers), estimated_bytes=plan.estimated_bytes,
                          height=_height(plan))


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_html` wrote: the path, its size, the estimate made before writing,
    and the estimated bytes each layer costs."""

    path: Path
    bytes: int
    estimated_bytes: int
    by_layer: dict[str, float]

    def __str__(self) -> str:
        return f"{self.path} ({self.bytes / 1e6:.1f} MB; estimated {self.estimated_bytes / 1e6:.1f} MB)"


def export_html(net: Any, images: Any, layers: Any, path: str | os.PathLike, *, image: str | None = None,
                layer: Any = None, stage: str | None = None, channel: int = 0, view: str = "grid",
                cmap: str = "gray", contrast: str = "minmax", contrasts: Any = None, cmaps: Any = None,
                max_mb: float | None = None, verbose: bool = True,
                state: ExplorerState | None = None) -> ExportResult:
    """Write an explorer of ``net`` as one self-contained HTML page, for lessons without a server.

    - ``images``: a sample's name, a path, an array, a list, or a dict name → image (None: "face").
    - ``layers``: names, indices or blocks (``"fire6"``); None: every layer. Both stages of each.
    - ``image``, ``layer``, ``stage``, ``channel``, ``view``, ``cmap``, ``contrast``: the first
      state, as the explorer's traits; or ``state``, an :class:`ExplorerState` such as
      ``explorer.state`` (the fields given too, where not at their defaults, replace its
      fields). ``contrasts``: those offered (default both; one halves
      the pictures). ``cmaps``: the colormaps offered (default the explorer's).
    - ``max_mb``: refuse a page larger than this (the estimate, made before anything is
      written), naming the layers that cost most. ``verbose``: print the estimate.
    - ``path``: the page's file (``.html``); its folder must exist (a FileNotFoundError says
      so before any work; the folder is not created for you).

    >>> import actwidgets as aw, tempfile, os
    >>> net = aw.load_model("squeezenet", weights=None)
    >>> out = aw.export_html(net, "face", ["conv10", "pool10"], os.path.join(tempfile.mkdtemp(), "x.html"),
    ...                      verbose=False)
    >>> out.path.name, abs(out.bytes / out.estimated_bytes - 1) < 0.1
    ('x.html', True)
    """
    _check_max_mb(max_mb)
    if Path(path).suffix.lower() not in (".html", ".htm"):
        StaticExplorer("").save(path)  # the sentence about the suffix
    _check_folder(path)
    first = ExplorerState.of(state, image=image, layer=layer, stage=stage, channel=channel, view=view,
                             cmap=cmap, contrast=contrast)
    plan = _checked_plan("export_html", net, images, layers, first, contrasts, cmaps, max_mb, verbose)
    page = StaticExplorer(_build(plan), name=net.name)
    out = page.save(path)
    if verbose:
        print(f"export_html: wrote {out} ({page.bytes / 1e6:.1f} MB)")
    return ExportResult(out, page.bytes, plan.estimated_bytes, dict(plan.by_layer))
