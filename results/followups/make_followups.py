"""Makes results/followups/: colour preservation, a style blend, style scale and two regions.

Every panel is one run of the command line (so its manifest records the exact command),
then ``followups.jpg`` puts them side by side. Run from the repository root:

    python results/followups/make_followups.py   # 256 px, 300 iterations (~25 min, 2 cores)
    python results/followups/make_followups.py --size 64 --iterations 5 --out /tmp/check

Images: $STYLE_TRANSFER_IMAGES, else ../shared/images beside the repository.
Photo (Tübingen, and the sky mask derived from it): Andreas Praefcke, CC BY 3.0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import PIL.Image
from scipy import ndimage

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from style_transfer import images  # noqa: E402
from style_transfer.plots import side_by_side  # noqa: E402


def sky_mask(content: Path, size: int) -> np.ndarray:
    """Tübingen's sky: strongly blue pixels connected to the top edge, holes filled."""
    rgb = images.resize_long_side(images.load_image(content), size)
    red, blue = rgb[..., 0], rgb[..., 2]
    labels, _ = ndimage.label((blue - red > 60) & (blue > 120))
    sky = np.isin(labels, np.unique(labels[0][labels[0] > 0]))
    sky = ndimage.binary_fill_holes(ndimage.binary_closing(sky, iterations=2))
    return sky.astype(np.uint8) * 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    folder = Path(os.environ.get("STYLE_TRANSFER_IMAGES", REPO.parent / "shared" / "images"))
    content = folder / "tubingen.jpg"
    starry, kandinsky = folder / "starry_night.jpg", folder / "composition_vii.jpg"
    out = args.out
    (out / "masks").mkdir(parents=True, exist_ok=True)
    sky = sky_mask(content, args.size)
    PIL.Image.fromarray(sky).save(out / "masks" / "sky.png")
    PIL.Image.fromarray(255 - sky).save(out / "masks" / "ground.png")

    common = ["--size", str(args.size), "--iterations", str(args.iterations), "--quiet"]
    panels = {
        "plain": ([starry], []),
        "luminance": ([starry], ["--preserve-colour", "luminance"]),
        "histogram": ([starry], ["--preserve-colour", "histogram"]),
        "blend": ([kandinsky, starry], ["--style-weights", "0.5", "0.5"]),
        "scale_0.5": ([starry], ["--style-scale", "0.5"]),
        "scale_2": ([starry], ["--style-scale", "2"]),
        "regions": (
            [starry, kandinsky],
            ["--masks", str(out / "masks" / "sky.png"), str(out / "masks" / "ground.png")],
        ),
    }
    for name, (styles, flags) in panels.items():
        target = out / f"{name}.png"
        command = [sys.executable, "-m", "style_transfer", "transfer", str(content)]
        command += [*map(str, styles), "-o", str(target), *common, *flags]
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, check=True, cwd=REPO)

    pictures = [content, *(out / f"{name}.png" for name in panels)]
    titles = [
        "content (Tübingen)",
        "Starry Night",
        "luminance only",
        "histogram matched (pca)",
        "Composition VII + Starry Night",
        "style scale 0.5",
        "style scale 2",
        "sky: Starry Night, rest: Comp. VII",
    ]
    thumbnails = [images.resize_long_side(images.load_image(p), args.size) for p in pictures]
    side_by_side(thumbnails, titles, out / "followups.jpg", columns=4)
    print(f"wrote {out / 'followups.jpg'}")


if __name__ == "__main__":
    main()
