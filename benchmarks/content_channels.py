"""Which filters make an image's content loss? The paper's content loss split by channel.

The paper's content loss is a sum over the content layer's filters, ½Σ(F−P)². On the
normalised network each filter is divided by its mean activation on the calibration images
(512 px), so a filter that is nearly silent there weighs far more than the others: where it
fires, it can carry the whole loss. This prints, for each image scored against the content
photo resized to it (as ``score`` does), the content loss and the share of the largest
channels, and for a pair of images (``A/B``) each channel's growth from A to B.

  python benchmarks/content_channels.py --network normalised \
      results/calibrate/gatys-code-1024px-500it/tubingen_starry_night.png \
      results/calibrate/gatys-code-2048px-500it/tubingen_starry_night_fine125.png
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from style_transfer import data, images, network, solve
from style_transfer.manifest import write_json_atomic
from style_transfer.settings import NETWORKS, Settings


def channel_losses(path: str, content: str, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """½Σ over positions of (F−P)² per channel of the content layer (float32 features, the
    network ``score`` uses, in float32 as it does), and each channel's mean activation
    over the photo."""
    resolved = dataclasses.replace(settings, precision="float32").resolve()
    extractor, _ = solve.load_network(resolved)
    layer = network.keras_layer_name(resolved.content_layer)
    image = images.load_image(path)
    photo = images.resize_to(images.load_image(content), *image.shape[:2])
    maps = [extractor(network.preprocess(rgb)[None])[layer].numpy()[0] for rgb in (image, photo)]
    losses = 0.5 * ((maps[0] - maps[1]) ** 2).sum(axis=(0, 1), dtype=np.float64)
    return losses, maps[1].mean(axis=(0, 1), dtype=np.float64)


def calibration_means(settings: Settings) -> np.ndarray:
    """The normalised network's divisors for the content layer: each filter's mean
    activation on the calibration images (normalise.py's cache)."""
    resolved = settings.resolve()
    _, info = solve.load_network(resolved)
    with np.load(info["normalisation"]["means_cache"]) as means:
        return means[network.keras_layer_name(resolved.content_layer)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", help="the images to split (the first two compared)")
    parser.add_argument(
        "--content", default="tubingen", help="the content photo (default %(default)s)"
    )
    parser.add_argument("--network", default="original", choices=NETWORKS)
    parser.add_argument("--top", type=int, default=3, help="channels listed per image")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    settings = Settings(network=args.network)
    content = str(data.image_path(args.content))
    split = {path: channel_losses(path, content, settings) for path in args.images}
    losses = {path: loss for path, (loss, _) in split.items()}
    report = {"network": args.network, "images": {}}
    for path, loss in losses.items():
        total = loss.sum()
        top = np.argsort(loss)[::-1][: args.top]
        report["images"][path] = {
            "content_loss": float(total),
            "top_channels": {int(c): float(loss[c] / total) for c in top},
        }
        shares = ", ".join(f"channel {c}: {100 * loss[c] / total:.1f}%" for c in top)
        print(f"{path}: content loss {total:.4g}; {shares}")
    if len(args.images) >= 2:
        first, second = losses[args.images[0]], losses[args.images[1]]
        growth = second / np.maximum(first, 1e-30)
        top = int(np.argmax(second))
        report["growth"] = {
            "total": float(second.sum() / first.sum()),
            "median_channel": float(np.median(growth)),
            "largest_channel": top,
            "largest_channel_growth": float(growth[top]),
            "total_without_largest": float(
                (second.sum() - second[top]) / (first.sum() - first[top])
            ),
            "largest_channel_photo_mean": [float(split[p][1][top]) for p in args.images[:2]],
        }
        if args.network == "normalised":
            means = calibration_means(settings)
            report["growth"]["calibration_mean"] = {
                "largest_channel": float(means[top]), "median": float(np.median(means)),
                "rank_from_smallest": int(np.sum(means < means[top])),
            }  # fmt: skip
        g = report["growth"]
        print(
            f"second / first: total x{g['total']:.3g}, median channel x{g['median_channel']:.3g}, "
            f"channel {top} x{g['largest_channel_growth']:.4g}, "
            f"total without channel {top} x{g['total_without_largest']:.3g}"
        )
        print(
            f"channel {top}'s mean activation over the photo: "
            + ", ".join(f"{m:.4g}" for m in g["largest_channel_photo_mean"])
        )
        if "calibration_mean" in g:
            c = g["calibration_mean"]
            print(
                f"its mean on the calibration images: {c['largest_channel']:.4g} (the layer's "
                f"median {c['median']:.4g}; {c['rank_from_smallest']} filters lower)"
            )
    if args.json:
        write_json_atomic(args.json, report)


if __name__ == "__main__":
    main()
