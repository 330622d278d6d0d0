"""``python -m actwidgets``: print a network's layers and save one layer's activations as a grid.

    python -m actwidgets squeezenet --layer conv1 --image face --out conv1.png
    python -m actwidgets googlenet --weights caffe --layer inception_3a-output --out grid.jpg

Arguments are checked before anything is loaded; a bad one prints one line and exits with
status 2 (no traceback). The picture is written in the format its file name asks for.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: File name endings the grid can be written as, and Pillow's format for each.
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
           ".tif": "TIFF", ".tiff": "TIFF"}


class UsageError(Exception):
    """Bad input: one line for the person, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m actwidgets", description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="squeezenet", help="zoo or torchvision name")
    parser.add_argument("--weights", default="DEFAULT",
                        help='"DEFAULT", a torchvision weights name, "caffe" (MATLAB\'s networks) '
                             'or a .pth file')
    parser.add_argument("--random-weights", action="store_true", help="use random weights (no download)")
    parser.add_argument("--layer", default="conv1",
                        help="layer to save as a grid: a name, or an index (3, -1) as in Python")
    parser.add_argument("--stage", choices=["pre", "post"], default=None)
    parser.add_argument("--image", default="face", help="a sample image name or a file path")
    parser.add_argument("--out", default="activations.png",
                        help=f"picture to write ({', '.join(sorted(FORMATS))})")
    return parser


def _check_model(name: str) -> None:
    import torchvision

    from .model.zoo import ZOO

    known = list(ZOO) + torchvision.models.list_models(module=torchvision.models)
    if name.lower() not in ZOO and name not in known:
        import difflib

        close = difflib.get_close_matches(name, known, n=3)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise UsageError(f"unknown model {name!r}{hint}; zoo names: {', '.join(ZOO)}, or any "
                         "torchvision classification model")


def _check_out(out: Path) -> str:
    fmt = FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise UsageError(f"--out {out}: cannot tell the format from {out.suffix or 'no ending'!r}; "
                         f"end the name with one of {', '.join(sorted(FORMATS))}")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; give a file name, e.g. {out / 'activations.png'}")
    folder = out.parent if str(out.parent) else Path(".")
    existing = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK) or not _writable(existing):
        raise UsageError(f"--out {out}: cannot write into {existing}; choose another folder")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: the file exists and cannot be written; choose another name")
    return fmt


def _writable(folder: Path) -> bool:
    """Whether a file can be made in ``folder`` (a real try: /proc or a read-only mount
    pass ``os.access`` as root, and refuse the file)."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _layer(text: str, stage: str | None, net) -> tuple[str, str]:  # net: Network
    """``--layer`` and ``--stage`` as ``activations`` reads them, ``--layer`` as Python takes
    it: a name, or an index (``3``, ``-1``) if no layer has that name; (name, stage)."""
    index = text not in net.layers and text.lstrip("-").isdigit()
    try:
        info, _ = net.layers.select(int(text) if index else text).one("the command line")
    except IndexError as exc:
        raise UsageError(f"--layer {text}: {exc}") from None
    except (KeyError, ValueError) as exc:  # LayerNameError is a KeyError
        raise UsageError(f"--layer: {exc}") from None
    try:
        return info.name, net.layers.select(info.name, stage).one("the command line")[1]
    except ValueError as exc:  # "pre" on a layer without stages
        raise UsageError(f"--stage {stage}: {exc}") from None


def _load(args: argparse.Namespace):  # -> Network
    import actwidgets as aw

    weights = None if args.random_weights else args.weights
    try:
        return aw.load_model(args.model, weights=weights)
    except aw.WeightsUnavailableError as exc:
        raise UsageError(f"{exc.reason}. Run once online to cache them, set TORCH_HOME to a folder "
                         "that holds them, or add --random-weights") from None
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = _check_out(out)
    _check_model(args.model)
    import actwidgets as aw
    from actwidgets import pixels

    try:
        image = aw.load_image(args.image)
    except (aw.ImageError, TypeError) as exc:
        raise UsageError(f"--image: {exc}") from None
    net = _load(args)
    layer, stage = _layer(args.layer, args.stage, net)
    print(net.summary())
    acts = aw.activations(net, image, layer, stage)
    grid = pixels.to_pil(pixels.render_grid(acts, cmap="gray", contrast="minmax"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        (grid.convert("RGB") if fmt in ("JPEG",) else grid).save(out, format=fmt)
    except OSError as exc:  # a read-only file system, a full disk, /proc...
        raise UsageError(f"--out {out}: cannot write it ({exc.strerror or exc})") from None
    print(f"\n{layer} ({stage}): {acts.shape[0]} channels of {acts.shape[1]}×{acts.shape[2]}, "
          f"min {acts.min():.3g}, max {acts.max():.3g} -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"python -m actwidgets: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
