"""Command line: ``python -m style_transfer transfer|score|weights ...``.

A thin layer over the Python API: it parses flags into ``Settings``, calls the
API, and turns every user error into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence

from . import errors
from .errors import StyleTransferError
from .settings import COLOUR_MODES, HISTOGRAM_METHODS, OPTIMIZERS, PRESETS, Settings

SETTING_FLAGS = (
    "preset", "ratio", "content_weight", "style_weight", "tv_weight", "pooling",
    "content_layer", "style_layers", "weights", "network", "calibration",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(errors.EXIT_BAD_INPUT, f"error: {message}; see '{self.prog} --help'\n")


def _add_objective_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("objective (default: the chosen preset's values)")
    group.add_argument(
        "--preset", default="paper", help=f"one of {', '.join(PRESETS)} (default paper)"
    )
    group.add_argument("--ratio", type=float, help="alpha/beta, content weight over style weight")
    group.add_argument("--content-weight", type=float, help="alpha (0 = texture synthesis)")
    group.add_argument("--style-weight", type=float, help="beta (0 = content reconstruction)")
    group.add_argument(
        "--tv-weight", type=float, default=0.0, help="total variation weight (default 0: off)"
    )
    group.add_argument(
        "--pooling", choices=("avg", "max"), help="avg (paper) or max (authors' code)"
    )
    group.add_argument("--content-layer", help="e.g. conv4_2 (default) or block4_conv2")
    group.add_argument("--style-layers", help="comma-separated, e.g. conv1_1,conv2_1,conv3_1")
    group.add_argument(
        "--weights", help="local VGG19 notop .h5 file (or set STYLE_TRANSFER_WEIGHTS)"
    )
    _add_network_flags(group)


def _add_network_flags(group: argparse._ActionsContainer, default: str = "original") -> None:
    group.add_argument(
        "--network",
        choices=("original", "normalised"),
        default=default,
        help=f"VGG19 as released, or normalised to mean activation 1 per filter (the paper's); "
        f"default {default}",
    )
    group.add_argument(
        "--calibration", help="folder of images to normalise on (default: the paper's images)"
    )


def _add_control_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "beyond the paper: colour, several styles, style scale, regions (the authors' follow-ups)"
    )
    group.add_argument(
        "--preserve-colour",
        "--preserve-color",
        choices=COLOUR_MODES,
        help="keep the content's colours: luminance (transfer on Y, content's chroma) or "
        "histogram (style recoloured to the content's colour mean and covariance)",
    )
    group.add_argument(
        "--histogram-method",
        choices=HISTOGRAM_METHODS,
        default="pca",
        help="the colour map for --preserve-colour histogram (default pca, the authors')",
    )
    group.add_argument(
        "--no-match-luminance",
        dest="match_luminance",
        action="store_false",
        help="luminance mode: do not match the style's Y mean/std to the content's",
    )
    group.add_argument(
        "--style-weights",
        dest="style_blend_weights",
        type=float,
        nargs="+",
        metavar="W",
        help="one blend weight per STYLE, normalised to sum to 1 (default: equal)",
    )
    group.add_argument(
        "--style-scale",
        type=float,
        default=1.0,
        help="resize the style images by this factor relative to the preset's size (1)",
    )
    group.add_argument(
        "--masks",
        nargs="+",
        metavar="MASK",
        help="one mask image per STYLE, white = region: region i is painted in style i",
    )
    group.add_argument(
        "--style-masks",
        nargs="+",
        metavar="MASK",
        help="one mask per STYLE selecting the part of it to copy ('all' = whole image)",
    )


def program_name(argv0: str | None = None) -> str:
    """How the user started us: ``style-transfer`` (the installed script) or ``python -m``."""
    name = os.path.basename(sys.argv[0] if argv0 is None else argv0)
    return "style-transfer" if name.startswith("style-transfer") else "python -m style_transfer"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=program_name(),
        description="Gatys, Ecker & Bethge, 'A Neural Algorithm of Artistic Style', in TF2/Keras.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("transfer", help="repaint CONTENT in the style of STYLE")
    run.add_argument("content", help="content image (the photo)")
    run.add_argument("style", nargs="+", help="style image(s) (the painting); several are blended")
    run.add_argument("-o", "--output", required=True, help="output image, e.g. out.png")
    run.add_argument("--size", type=int, default=512, help="longer side of the output in px (512)")
    run.add_argument("--iterations", type=int, default=500, help="optimiser iterations (500)")
    run.add_argument("--init", help="noise | content | style | PATH (default: the preset's)")
    run.add_argument("--seed", type=int, default=0, help="seed for the noise start (0)")
    run.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="lbfgs", help="lbfgs (default) or adam"
    )
    run.add_argument("--learning-rate", type=float, default=10.0, help="Adam step size (10)")
    run.add_argument("--lbfgs-history", type=int, default=20, help="L-BFGS memory (20)")
    run.add_argument("--save-every", type=int, default=0, help="also save every K iterations")
    run.add_argument(
        "--scales",
        type=int,
        default=1,
        help="coarse-to-fine: solve at SIZE/2^(S-1) first, double up to SIZE, halving the "
        "iterations at each finer scale (default 1: single scale)",
    )
    run.add_argument(
        "--precision",
        choices=("float32", "mixed"),
        default="float32",
        help="mixed: network in bfloat16 (CPU) / float16 (GPU), Grams and losses float32",
    )
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_objective_flags(run)
    _add_control_flags(run)

    score = commands.add_parser("score", help="evaluate the objective for any image")
    score.add_argument("image", help="the image to score, at its own size")
    score.add_argument("--content", required=True, help="content image (resized to IMAGE)")
    score.add_argument(
        "--style", required=True, nargs="+", help="style image(s) (resized per the preset)"
    )
    score.add_argument(
        "--style-weights", dest="style_blend_weights", type=float, nargs="+", metavar="W",
        help="one blend weight per --style, normalised to sum to 1 (default: equal)",
    )  # fmt: skip
    score.add_argument("--json", action="store_true", help="print one JSON object")
    _add_objective_flags(score)

    _add_reproduction_commands(commands)

    bench = commands.add_parser("bench", help="benchmark against the hardware floor (bench.py)")
    from .bench import add_arguments as add_bench_arguments

    add_bench_arguments(bench)

    weights = commands.add_parser("weights", help="find (or fetch) the VGG19 weights")
    weights.add_argument("--weights", help="a local file to check instead")
    weights.add_argument("--no-download", action="store_true", help="never use the network")
    return parser


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    values = {name: getattr(args, name) for name in SETTING_FLAGS}
    return Settings(**values, **extra)


def _transfer(args: argparse.Namespace) -> int:
    from .api import transfer

    settings = _settings(
        args,
        size=args.size,
        iterations=args.iterations,
        init=args.init,
        seed=args.seed,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        lbfgs_history=args.lbfgs_history,
        save_every=args.save_every,
        preserve_colour=args.preserve_colour,
        histogram_method=args.histogram_method,
        match_luminance=args.match_luminance,
        style_blend_weights=args.style_blend_weights,
        style_scale=args.style_scale,
        scales=args.scales,
        precision=args.precision,
    )
    result = transfer(
        args.content,
        args.style,
        settings,
        output=args.output,
        progress=not args.quiet,
        masks=args.masks,
        style_masks=args.style_masks,
    )
    optimizer = result.manifest["optimizer"]
    where = result.manifest["output"]["path"]
    if result.status == "interrupted":
        print(f"interrupted: saved the best image so far to {where}", file=sys.stderr)
        return errors.EXIT_INTERRUPTED
    if result.status == "diverged":
        print(f"{result.stop_reason}; saved it to {where}", file=sys.stderr)
        return errors.EXIT_DIVERGED
    print(
        f"saved {where} ({optimizer['iterations']} iterations, "
        f"{optimizer['function_evaluations']} evaluations, {optimizer['stop_reason']})"
    )
    return errors.EXIT_OK


def _score(args: argparse.Namespace) -> int:
    from .api import score

    settings = _settings(args, style_blend_weights=args.style_blend_weights)
    report = score(args.image, args.content, args.style, settings)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key in ("content_loss", "style_loss", "tv_loss", "total_loss"):
            print(f"{key:14s} {report[key]:.6g}")
        for layer, value in report["style_losses"].items():
            print(f"  E[{layer}] {value:.6g}")
    return errors.EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from .bench import main_from_args

    return main_from_args(args)


def _weights(args: argparse.Namespace) -> int:
    from .weights import resolve_weights, weights_info

    info = weights_info(resolve_weights(args.weights, download=not args.no_download))
    official = "official Keras file" if info["official"] else "NOT the official Keras file"
    print(f"{info['path']}\nmd5 {info['md5']} ({official})")
    return errors.EXIT_OK


def _add_reproduction_commands(commands: argparse._SubParsersAction) -> None:
    from .reproduce import DEFAULT_NETWORK, DEFAULT_RATIO_SCALE, FIGURES

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--out", default="results", help="output folder (results)")
        parser.add_argument(
            "--images",
            help="folder with the paper's images (or set STYLE_TRANSFER_IMAGES; "
            "default: download them into the Keras cache)",
        )
        parser.add_argument(
            "--ratios",
            choices=("arxiv", "cvpr"),
            default="arxiv",
            help="Figure 2's alpha/beta values: arXiv (default) or CVPR",
        )
        parser.add_argument(
            "--ratio-scale",
            type=float,
            default=DEFAULT_RATIO_SCALE,
            help="multiply every alpha/beta of the paper by this "
            f"(default {DEFAULT_RATIO_SCALE:g}; see results/README.md)",
        )
        parser.add_argument("--weights", help="local VGG19 notop .h5 file")
        _add_network_flags(parser, DEFAULT_NETWORK)

    run = commands.add_parser("reproduce", help="regenerate the paper's figures")
    run.add_argument("figure", choices=(*FIGURES, "all"), help="which figure")
    run.add_argument("--size", type=int, default=512, help="longer side in px (512)")
    run.add_argument("--iterations", type=int, default=500, help="L-BFGS iterations (500)")
    run.add_argument("--force", action="store_true", help="re-render panels already done")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common(run)
    compare = commands.add_parser(
        "compare", help="score published Figure 2 results and ours under the same objective"
    )
    common(compare)


def _reproduce(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    base = Settings(weights=args.weights, calibration=args.calibration)
    reproduce(
        args.figure, args.out, size=args.size, iterations=args.iterations,
        images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, settings=base, force=args.force, progress=not args.quiet,
    )  # fmt: skip
    return errors.EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from .reproduce import compare

    compare(
        args.out, images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, weights=args.weights, calibration=args.calibration,
    )  # fmt: skip
    return errors.EXIT_OK


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up log lines (CUDA probes, oneDNN notes) hidden.

    TensorFlow 2.21 writes them straight to file descriptor 2, past TF_CPP_MIN_LOG_LEVEL;
    they are replayed if the import itself fails.
    """
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.buffer.write(sink.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "weights":
        _import_tensorflow_quietly()
    handler = {
        "transfer": _transfer, "score": _score, "weights": _weights,
        "reproduce": _reproduce, "compare": _compare, "bench": _bench,
    }[args.command]  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_in_one_line
            return handler(args)
    except StyleTransferError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # before the optimisation, or during the (atomic) save
        print(
            "interrupted before a result was saved; any earlier file of that name is unchanged",
            file=sys.stderr,
        )
        return errors.EXIT_INTERRUPTED


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (an animation's first frame used, unofficial weights) as one stderr line."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)
