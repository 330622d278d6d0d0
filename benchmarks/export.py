"""Sizes and write times of exported explorer pages: the README's table. A script, not a test.

    python benchmarks/export.py [--random-weights]

For SqueezeNet (its trained weights where $TORCH_HOME has them: PNG sizes depend on the
pictures), it writes each export of the README's table to a temporary folder and prints the
file's size, the estimate made before writing (and its error) and the time to write it; then
the size of the page's inline JavaScript and CSS. The flip time in the page is measured by
the browser suite (``tests/e2e/test_export_browser.py``), which prints it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
_SHARED_HOME = _REPO.parent / "shared" / "torch-home"
if "TORCH_HOME" not in os.environ and _SHARED_HOME.is_dir():
    os.environ["TORCH_HOME"] = str(_SHARED_HOME)

import actwidgets as aw  # noqa: E402
import actwidgets.export  # noqa: E402  (its page assets)
from actwidgets import frontend  # noqa: E402  (the module the page inlines)

#: (what, images, layers, contrasts): the README's rows.
ROWS = [
    ("one image, all 64 layers, both stages, both contrasts", "face", None, None),
    ("the same with one contrast", "face", None, ("minmax",)),
    ("two images, all layers", ["face", "cat"], None, None),
    ("one image, conv1 and relu_conv1", "face", ["conv1", "relu_conv1"], None),
    ("one image, blocks fire6 and fire7", "face", ["fire6", "fire7"], None),
    ("one image, block fire9", "face", ["fire9"], None),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--random-weights", action="store_true", help="do not load trained weights")
    args = ap.parse_args()
    net = aw.load_model("squeezenet", weights=None if args.random_weights else "DEFAULT")
    print(f"{net!r}")
    print(f"{'export':<56} {'file':>9} {'estimate':>9} {'error':>7} {'write':>7}")
    with tempfile.TemporaryDirectory() as folder:
        for i, (what, images, layers, contrasts) in enumerate(ROWS):
            start = time.perf_counter()
            out = aw.export_html(net, images, layers, Path(folder) / f"{i}.html",
                                 contrasts=contrasts, verbose=False)
            seconds = time.perf_counter() - start
            print(f"{what:<56} {out.bytes / 1e6:7.2f} MB {out.estimated_bytes / 1e6:6.2f} MB "
                  f"{out.estimated_bytes / out.bytes - 1:+6.1%} {seconds:6.1f} s")
    assets = Path(actwidgets.export.__file__).parent
    page = sum((assets / name).stat().st_size for name in ("shim.js", "page.js", "page.css", "template.html"))
    inline = page + len(frontend.module_text().encode()) + len(frontend.stylesheet().encode())
    print(f"inline JavaScript, CSS and page template: {inline / 1e3:.0f} KB")


if __name__ == "__main__":
    main()
