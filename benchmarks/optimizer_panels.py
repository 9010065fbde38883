"""Does ``--optimizer lbfgs-tf`` change Figure 2? Issue 17 item 3's decision, like item 2's.

Renders Figure 2's panels (B, C, D, F: the public styles) with the committed panels' exact
settings (``reproduce fig2``'s: paper preset, calibrated alpha/beta, 512 px, 500 iterations,
noise seed 0, ``--precision auto``) but ``--optimizer lbfgs-tf``, into ``--out``; a panel
already there is kept. Then scores each saved PNG and the committed scipy panel beside it
(``results/fig2``) under the exact float32 paper objective, and writes the table
(``comparison.json``, printed as Markdown; the panels side by side in ``SIDE_BY_SIDE``,
scipy's above): objectives, their ratio, the mean absolute
pixel difference (as ``bench --experiment precision-panels`` reports it for float32 against
auto) and each run's wall time from its manifest.

  python benchmarks/optimizer_panels.py --images ../shared/images --out results/lbfgs-tf
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from style_transfer import api, data, images
from style_transfer.settings import Settings
from style_transfer.tools.figures import (
    CALIBRATED,
    DEFAULT_NETWORK,
    figure_spec,
    panel_settings,
    ratio_scale_value,
)

PUBLIC_PANELS = ("B", "C", "D", "F")  # E is the Picasso, never used here
COMMITTED = Path("results/fig2")  # scipy's L-BFGS-B, rendered by reproduce fig2
SIDE_BY_SIDE = "fig2-scipy-vs-lbfgs-tf.jpg"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/lbfgs-tf")
    parser.add_argument("--images", help="folder with the paper's images")
    args = parser.parse_args()
    if args.images:
        os.environ.setdefault(data.ENV_VAR, os.path.abspath(args.images))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    k = ratio_scale_value(CALIBRATED, DEFAULT_NETWORK)
    base = Settings(size=512, iterations=500, network=DEFAULT_NETWORK, optimizer="lbfgs-tf")
    content = data.image_path("tubingen")
    rows, pictures = [], {"scipy": [], "lbfgs_tf": []}
    for panel in figure_spec("fig2").panels:
        if panel.key not in PUBLIC_PANELS:
            continue
        settings = panel_settings(panel, base, k)
        style = data.image_path(panel.style)
        ours = out / panel.filename
        if not ours.exists():
            api.transfer(content, style, settings, output=ours, progress=False)
        row = {"panel": panel.key, "style": panel.style, "ratio": settings.ratio}
        for label, path in (("scipy", COMMITTED / panel.filename), ("lbfgs_tf", ours)):
            scored = api.score(path, content, style, ratio=settings.ratio, precision="float32")
            manifest = json.loads(Path(f"{path}.json").read_text())
            row[label] = {
                "image": str(path),
                "total": scored["total_loss"],
                "content": scored["content_loss"],
                "style": scored["style_loss"],
                "optimizer": manifest["settings"]["optimizer"],
                "wall_time_s": manifest.get("wall_time_s"),
            }
        a, b = (images.load_image(row[x]["image"]) for x in ("scipy", "lbfgs_tf"))
        row["mean_abs_pixel_difference"] = float(np.abs(a - b).mean())  # as precision-panels
        pictures["scipy"].append(a)
        pictures["lbfgs_tf"].append(b)
        row["lbfgs_tf_over_scipy"] = row["lbfgs_tf"]["total"] / row["scipy"]["total"]
        rows.append(row)
    grid = np.concatenate([np.concatenate(row, axis=1) for row in pictures.values()], axis=0)
    images.save_image(grid, out / SIDE_BY_SIDE)  # top: scipy's panels; bottom: lbfgs-tf's
    (out / "comparison.json").write_text(json.dumps({"k": k, "rows": rows}, indent=2) + "\n")
    print("| panel | scipy L-BFGS-B objective | lbfgs-tf objective | ratio | mean abs. px diff. "
          "| wall time scipy / lbfgs-tf |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        s, t = r["scipy"], r["lbfgs_tf"]
        print(f"| {r['panel']} ({r['style']}) | {s['total']:.7g} | {t['total']:.7g} "
              f"| {r['lbfgs_tf_over_scipy']:.4f} | {r['mean_abs_pixel_difference']:.1f} "
              f"| {s['wall_time_s']:.0f} s / {t['wall_time_s']:.0f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
