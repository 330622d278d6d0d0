"""``ConceptView``: a layer's concepts on an image, each a colour whose opacity is its strength.

>>> import actwidgets as aw
>>> net = aw.load_model("squeezenet", weights=None)
>>> c = aw.layer_concepts(net, "face", "fire6-relu_squeeze1x1", n=3, progress=False)
>>> view = aw.ConceptView(c)                      # display(view) in a notebook
>>> view.concept = 1; view.picture.shape          # concept 1 alone over the face
(227, 227, 3)
"""

from __future__ import annotations

import itertools
import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import traitlets
from traitlets import Bytes, Dict, Float, Int, List, Unicode, validate

from .. import frontend
from ..concepts import payload
from ..concepts.pictures import concept_picture
from ..concepts.record import Concepts
from ..images import load_image
from ..pixels.png import to_png
from ._fvrun import Job, Pictures, Run
from ._page import PageWidget
from ._state import running_loop

__all__ = ["ConceptView", "MAX_IMAGES"]

#: Images of the collection offered in the image picker, at most (the first with maps).
MAX_IMAGES = 50
_FV_DEFAULTS = {"method": "regularized", "steps": 128, "size": 128}


class ConceptView(PageWidget):
    """A layer's :class:`~actwidgets.Concepts` on an image: each concept a colour, its
    strength the colour's opacity; a legend of the concepts with their top channels.

    Pick a concept (``concept``, or a click on the legend) to see it alone, its top patches
    over the collection, which channels make it (its loadings as bars) and its feature
    visualisation (:meth:`visualize`: in the background, stoppable). ``hidden`` concepts are
    left out of the picture of all of them; ``alpha`` is the opacity of a concept at full
    strength. ``images``: pictures to project besides the collection's (a dict name → image,
    or a list); ``names``: what to call the collection's images (one per image; default their
    file names, else ``image i``). The page draws the pictures: the kernel sends an image's
    maps as 8-bit levels once per image change; picking, hiding and the opacity are drawn in
    the browser.
    ``view.png`` is the picture shown, drawn in Python.
    """

    _esm = frontend.module_text("draw.js", "controls.js", "concepts.js")
    _css = frontend.stylesheet("concepts.css")

    image = Unicode(help="Name of the picked image: one of the collection's or one passed in").tag(sync=True)
    concept = Int(-1, help="The picked concept (0..n-1), shown alone; -1 for all of them").tag(sync=True)
    hidden = List(Int(), help="Concepts left out of the picture of all of them").tag(sync=True)
    alpha = Float(0.8, help="Opacity of a concept at full strength, in [0, 1]").tag(sync=True)
    _meta = Dict(help="The network, the layer, each concept's colour, scale, loadings, top channels "
                      "and patches").tag(sync=True)
    _image = Dict(help="The shown image's name, its maps' shape and a serial").tag(sync=True)
    _maps = Bytes(help="The image's maps as 8-bit levels (each over its largest value), then those "
                       "float32 values").tag(sync=True)
    _picture = Bytes(help="The image's (H, W, 3) uint8 pixels at the input size").tag(sync=True)
    _fv = Dict(help="Feature visualisations by concept: picture (data URI), status line, "
                    "running").tag(sync=True)

    _state_names = ("image", "concept", "hidden", "alpha")
    _serials = itertools.count(1)

    def __init__(self, concepts: Concepts, images: Mapping[str, Any] | list[Any] | None = None, *,
                 image: str | None = None, concept: int = -1, hidden: Any = (), alpha: float = 0.8,
                 names: Any = None, patches: int = payload.PATCHES) -> None:
        if not isinstance(concepts, Concepts):
            raise TypeError(f"ConceptView shows a Concepts (from aw.layer_concepts), got "
                            f"{type(concepts).__name__}")
        self._concepts = concepts
        super().__init__(concepts.net)
        self._offer: dict[str, Any] = dict(payload.image_names(concepts, MAX_IMAGES, names))
        self._add_given(images)
        if not self._offer:
            raise ValueError("these concepts kept no maps (keep_maps=False) to show: pass "
                             "images=[...] to project, e.g. ConceptView(concepts, ['face'])")
        self._cache: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._sent: str | None = None
        self._runs: dict[int, Run] = {}
        self._fv_pictures: dict[int, np.ndarray] = {}
        self._meta = payload.concepts_meta(concepts, list(self._offer), patches=patches, names=names)
        with self.hold_trait_notifications():
            self.image = image if image is not None else next(iter(self._offer))
            self.concept, self.hidden, self.alpha = concept, list(hidden), alpha
        if not self._start():
            raise ValueError(f"ConceptView cannot show these concepts: {self.error}")

    def _add_given(self, images: Any) -> None:
        if images is None:
            return
        items = images.items() if isinstance(images, Mapping) else (
            (img if isinstance(img, str) else f"picture {k}", img) for k, img in enumerate(images))
        for name, img in items:
            self._add(str(name), img)

    def _add(self, name: str, image: Any) -> str:
        while name in self._offer:
            name += " (2)"
        self._offer[name] = load_image(image)
        return name

    def add_image(self, name: str, image: Any, *, select: bool = True) -> str:
        """Offer another picture under ``name`` (made unique), projected onto the concepts;
        returns the name used. ``image``: anything :func:`actwidgets.load_image` reads."""
        key = self._add(str(name), image)
        self._meta = {**self._meta, "images": list(self._offer)}
        if select:
            self.image = key
        return key

    def _on_upload(self, content: Mapping[str, Any], buffers: list[Any]) -> None:
        """The page's upload control sent a file: ``{"event": "upload", "name": ...}``; its
        problem shows in the page (the state stays as it was)."""
        from ._shelf import read_upload

        item = {"name": content.get("name"), "content": buffers[0] if buffers else None}
        try:
            self.add_image(*read_upload(item))
        except Exception as exc:  # noqa: BLE001 - shown in the widget
            self._report(exc, f"upload {str(item.get('name') or 'upload')!r}")

    @property
    def concepts(self) -> Concepts:
        """The concepts shown."""
        return self._concepts

    # ------------------------------------------------------------------ checks
    @validate("image")
    def _valid_image(self, proposal: Any) -> str:
        value = proposal["value"]
        if value not in self._offer:
            names = list(self._offer)
            more = f" and {len(names) - 8} more" if len(names) > 8 else ""
            raise traitlets.TraitError(
                f"ConceptView.image: no image named {value!r}; choose one of "
                f"{', '.join(map(repr, names[:8]))}{more} (or pass images=... to ConceptView)")
        return value

    @validate("concept")
    def _valid_concept(self, proposal: Any) -> int:
        value, n = proposal["value"], self._concepts.n
        if not -1 <= value < n:
            raise traitlets.TraitError(f"ConceptView.concept: there are {n} concepts (0..{n - 1}); "
                                       f"{value} is none of them (-1 shows all of them)")
        return value

    @validate("hidden")
    def _valid_hidden(self, proposal: Any) -> list[int]:
        value, n = proposal["value"], self._concepts.n
        bad = [i for i in value if not 0 <= i < n]
        if bad:
            raise traitlets.TraitError(f"ConceptView.hidden: there are {n} concepts (0..{n - 1}), "
                                       f"not {bad[0]}")
        return sorted(set(value))

    @validate("alpha")
    def _valid_alpha(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise traitlets.TraitError(f"ConceptView.alpha: the opacity lies in [0, 1] (0: the "
                                       f"photo alone, 1: the colours opaque), not {value}")
        return value

    # ------------------------------------------------------------------ data
    def _data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(picture (H, W, 3) uint8, maps (n, h, w)) of image ``name`` (a few kept)."""
        if name in self._cache:
            self._cache.move_to_end(name)
            return self._cache[name]
        c, what = self._concepts, self._offer[name]
        if isinstance(what, int):
            from ..atlas.sources import read_source

            got = (self._net.image(load_image(read_source(c.source.item(what)))), c.maps[what])
        else:
            got = (self._net.image(what), c.project(what))
        self._cache[name] = got
        while len(self._cache) > 8:
            self._cache.popitem(last=False)
        return got

    @property
    def which(self) -> list[int]:
        """The concepts in the picture now: the picked one, or all but the hidden ones."""
        if self.concept >= 0:
            return [self.concept]
        return [i for i in range(self._concepts.n) if i not in self.hidden]

    @property
    def maps(self) -> np.ndarray:
        """The shown image's maps (n, h, w) (a copy)."""
        return np.array(self._data(self.image)[1])

    @property
    def picture(self) -> np.ndarray:
        """The picture shown: (H, W, 3) uint8 (:meth:`Concepts.picture`'s)."""
        rgb, maps = self._data(self.image)
        return concept_picture(rgb, maps, self._concepts.scale, which=self.which, alpha=self.alpha)

    @property
    def png(self) -> bytes:
        """The PNG bytes of the picture shown (drawn in Python when asked for)."""
        return to_png(self.picture)

    def _compute(self) -> Any:
        """The image's maps and pixels when the image changed since they were sent (else
        None: the page draws the concepts itself)."""
        if self.image == self._sent:
            return None
        rgb, maps = self._data(self.image)
        meta, data = payload.maps_payload(maps, image=self.image, serial=next(self._serials))
        return self.image, meta, data, np.ascontiguousarray(rgb).tobytes()

    def _apply(self, result: Any) -> None:
        if result is None:
            return
        name, meta, data, rgb = result
        with widgets.Widget.hold_sync(self):  # one message
            self._picture, self._image, self._maps = rgb, meta, data
            self._sent = name

    # ------------------------------------------------------------------ feature visualisation
    def visualize(self, concept: int | None = None, *, background: bool = True,
                  **kwargs: Any) -> bool:
        """The feature visualisation of ``concept`` (default the picked one): its direction
        maximised (:meth:`Concepts.visualize`), in a background thread (``background=False``:
        here, blocking). Keywords: ``method``, ``steps`` (128), ``size`` (128), ``seed``.
        False, with the reason in the widget, when it cannot start."""
        i = self.concept if concept is None else concept
        try:
            i = self._concepts._check(i)
        except (TypeError, IndexError) as exc:
            self._report(f"pick a concept to visualise first ({exc})")
            return False
        run = self._runs.get(i)
        if run is not None and not run.ended.is_set():
            self._report(f"concept {i}'s feature visualisation is running: stop it first")
            return False
        unknown = sorted(set(kwargs) - {*_FV_DEFAULTS, "seed"})
        if unknown:
            raise TypeError(f"visualize() takes method, steps, size and seed, not {unknown[0]!r}")
        opts = {**_FV_DEFAULTS, "seed": 0, **kwargs}
        job = Job(self._concepts.layer, self._concepts.directions([i]), opts["method"],
                  int(opts["steps"]), int(opts["size"]), int(opts["seed"]), self._concepts.stage)
        run = Run(self._net, job, on_progress=lambda d, t: self._fv_status(i, f"{d} of {t} steps", True),
                  on_pictures=lambda p: self._fv_show(i, p, True),
                  on_end=lambda p, e: self._fv_end(i, p, e))
        self._runs[i] = run
        self._fv_status(i, f"starting: {job.steps} steps at {job.size}×{job.size} px", True)
        run.start() if background else run.run_here()
        return True

    def stop(self, concept: int | None = None) -> bool:
        """Stop the feature visualisation of ``concept`` (default: every one running) after
        its current step, keeping its picture so far; False when none runs."""
        runs = [r for i, r in self._runs.items() if concept is None or i == concept]
        going = [r for r in runs if not r.ended.is_set() and not r.stopping]
        for r in going:
            r.stop()
        return bool(going)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every feature visualisation to end (scripts and tests; a kernel's event
        loop delivers the ends, so this refuses to block it)."""
        runs = [r for r in self._runs.values() if r.thread is not None and not r.ended.is_set()]
        if runs and running_loop() is not None:
            raise RuntimeError("ConceptView.wait() would block the kernel that delivers the run's "
                               "end; observe the view's _fv trait instead")
        return all(r.ended.wait(timeout) for r in runs)

    def featurevis(self, concept: int) -> np.ndarray | None:
        """Concept ``concept``'s feature visualisation (H, W, 3) uint8 so far, or None."""
        return self._fv_pictures.get(int(concept))

    def _fv_status(self, i: int, status: str, running: bool, src: str | None = None) -> None:
        with self._lock:
            old = self._fv.get(str(i), {})
            entry = {"src": old.get("src", "") if src is None else src, "status": status,
                     "running": running}
            self._fv = {**self._fv, str(i): entry}

    def _fv_show(self, i: int, pictures: Pictures, running: bool) -> None:
        rgb = np.clip(pictures.images[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
        self._fv_pictures[i] = rgb
        what = f"{pictures.done} of {pictures.job.steps} steps"
        self._fv_status(i, what if running else f"{what} in {pictures.seconds:.1f} s", running,
                        payload.picture_uri(rgb))

    def _fv_end(self, i: int, pictures: Pictures | None, error: BaseException | None) -> None:
        if error is not None or pictures is None:
            self._fv_status(i, "failed", False)
            self._report(error or "the run gave no picture", f"feature visualisation of concept {i}")
        else:
            self._fv_show(i, pictures, False)

    def _on_visualize(self, content: Mapping[str, Any], _buffers: list[Any]) -> None:
        """The page's button: ``{"event": "visualize", "concept": i}``."""
        self.visualize(int(content.get("concept", self.concept)))

    def _on_stop(self, content: Mapping[str, Any], _buffers: list[Any]) -> None:
        self.stop(content.get("concept"))

    # ------------------------------------------------------------------ output
    def export_html(self, path: str | os.PathLike, *, images: Any = None,
                    verbose: bool = True) -> Path:
        """This view as one self-contained HTML page (offline, no kernel), opening on what is
        shown now; ``images``: names of the images to include (default: the one shown).
        The feature visualisations computed so far go in. Returns the path."""
        from ..export.concepts_page import export_concepts_html

        return export_concepts_html(self, path, images=images, verbose=verbose)

    def save_png(self, path: str | os.PathLike) -> Path:
        """Write the picture shown to ``path`` (a .png file); returns the path."""
        out = Path(path)
        if out.suffix.lower() != ".png":
            raise ValueError(f"save_png writes PNG files; give a path ending in .png, got {out.name!r}")
        out.write_bytes(self.png)
        return out
