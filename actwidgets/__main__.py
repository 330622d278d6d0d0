"""``python -m actwidgets``: print a network's layers and save one layer's activations as a grid.

    python -m actwidgets squeezenet --layer conv1 --image face --out conv1.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actwidgets", description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="squeezenet", help="zoo or torchvision name")
    parser.add_argument("--layer", default="conv1", help="layer to save as a grid")
    parser.add_argument("--stage", choices=["pre", "post"], default=None)
    parser.add_argument("--image", default="face", help="a sample image name or a file path")
    parser.add_argument("--out", default="activations.png", help="PNG file to write")
    parser.add_argument("--random-weights", action="store_true", help="use random weights")
    args = parser.parse_args(argv)

    import actwidgets as aw
    from actwidgets import pixels

    net = aw.load_model(args.model, weights=None if args.random_weights else "DEFAULT")
    print(net.summary())
    image = aw.sample_image(args.image) if args.image in aw.SAMPLE_IMAGES else aw.load_image(args.image)
    acts = aw.activations(net, image, args.layer, args.stage)
    grid = pixels.render_grid(acts, cmap="gray", contrast="minmax")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pixels.to_png(grid))
    info = net.layer(args.layer)
    stage = args.stage or info.default_stage
    print(f"\n{info.name} ({stage}): {acts.shape[0]} channels of {acts.shape[1]}×{acts.shape[2]}, "
          f"min {acts.min():.3g}, max {acts.max():.3g} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
