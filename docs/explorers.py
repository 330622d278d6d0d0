"""The documentation site's explorers: one static explorer page per tutorial, no kernel needed.

``python docs/explorers.py`` writes ``docs/_static/explorers/<tutorial>.html`` with
:func:`actwidgets.static_explorer` (the same page ``export_html`` writes) for each tutorial in
:data:`EXPLORERS`, and ``index.json`` beside them (each page's height, network and weights).
``docs/conf.py`` puts each page into its tutorial's page as an ``<iframe>``. A tutorial whose
stored outputs already hold a static explorer (04 trains its network in the notebook) is not
listed. ``.ci/docs`` runs this before Sphinx; pages already written are kept unless
``--force``. It runs networks (not the notebooks): SqueezeNet and GoogLeNet with MATLAB's
Caffe weights from ``$TORCH_HOME``, VGG16 with random weights where its trained ones cannot
be had, which the page's caption and the tutorial page then say.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "_static" / "explorers"


@dataclass(frozen=True)
class Spec:
    """What one tutorial's explorer shows: ``load_model`` arguments and ``static_explorer``'s."""

    model: tuple[str, dict[str, Any]]
    images: Any
    layers: list[str]
    state: dict[str, Any] = field(default_factory=dict)


EXPLORERS: dict[str, Spec] = {
    "00_explorer": Spec(("squeezenet", {"weights": "caffe"}), ["face", "cat"], ["fire6", "fire9"],
                        {"layer": "fire6-relu_squeeze1x1", "channel": 13}),
    "01_squeezenet_activations": Spec(("squeezenet", {"weights": "caffe"}), ["face", "face_eye_closed"],
                                      ["conv1", "relu_conv1", "fire6"], {"layer": "conv1", "channel": 21}),
    "02_googlenet_activations": Spec(("googlenet", {"weights": "caffe"}), ["face"],
                                     ["conv1-7x7_s2", "conv1-relu_7x7"],
                                     {"layer": "conv1-7x7_s2", "channel": 42}),
    "03_vgg16_feature_visualization": Spec(("vgg16", {"head": False, "input_size": 128}), ["cat"],
                                           ["block1_conv1", "block4_conv1"], {"layer": "block4_conv1"}),
    "05_googlenet_feature_visualization": Spec(("googlenet", {"weights": "caffe"}), ["cat", "coffee"],
                                               ["inception_4a-relu_3x3"], {"channel": 0}),
    "06_what_makes_a_channel_fire": Spec(("squeezenet", {"weights": "caffe"}), ["face", "cat", "coffee"],
                                         ["fire6"], {"layer": "fire6-relu_squeeze1x1", "channel": 46}),
    "07_layer_concepts": Spec(("squeezenet", {"weights": "caffe"}), ["face", "cat"],
                              ["fire6", "fire9"], {"layer": "fire6-relu_squeeze1x1", "channel": 13}),
}


def _load(name: str, kwargs: dict[str, Any]) -> Any:
    import actwidgets as aw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random-weights warning: the page says it instead
        return aw.load_model(name, **kwargs)


def build(force: bool = False) -> dict[str, dict[str, Any]]:
    """Write the pages that are missing (all with ``force``); return the index."""
    import actwidgets as aw

    OUT.mkdir(parents=True, exist_ok=True)
    index_file = OUT / "index.json"
    index = json.loads(index_file.read_text()) if index_file.is_file() and not force else {}
    nets: dict[str, Any] = {}
    for stem, spec in EXPLORERS.items():
        path = OUT / f"{stem}.html"
        if path.is_file() and stem in index and not force:
            continue
        start = time.perf_counter()
        key = json.dumps(spec.model, sort_keys=True)
        if key not in nets:
            nets[key] = _load(*spec.model)
        net = nets[key]
        page = aw.static_explorer(net, spec.images, spec.layers, contrasts=("minmax",), **spec.state)
        page.save(path)
        index[stem] = {"height": page.height, "network": str(net), "pretrained": bool(net.pretrained),
                       "bytes": page.bytes}
        print(f"{path.name}: {page!r}, {time.perf_counter() - start:.1f} s")
    index_file.write_text(json.dumps(index, indent=1, sort_keys=True))
    return index


if __name__ == "__main__":
    build(force="--force" in sys.argv[1:])
