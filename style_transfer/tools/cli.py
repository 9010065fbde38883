"""The research subcommands of ``python -m style_transfer``: reproduce, compare, bench.

``style_transfer.cli`` calls :func:`add_commands`; each subcommand stores its handler as
``args.handler``. Only flags are defined here: a handler imports its tool when it runs, so
``transfer`` does not pay for rendering, scoring or benchmarking code.
"""

from __future__ import annotations

import argparse
import os

from .. import data, errors
from ..settings import Settings
from .calibrate import CRITERIA, DEFAULT_REFERENCE, MAX_STEPS, REFERENCES, STARTS, TOLERANCE
from .figures import (
    CALIBRATED,
    DEFAULT_NETWORK,
    DEFAULT_RATIO_SCALE,
    DEFAULT_RATIOS,
    FIGURES,
    PANEL_FORMATS,
    PRINTED,
    RATIO_SOURCES,
)
from .tracked import DEFAULT_OUT, FLAG

PROCEDURES = ("calibrate", "parity")  # reproduce's measurements besides the figures


def ratio_scale(text: str) -> str | float:
    """``--ratio-scale``: calibrated, printed or a number > 0."""
    if text in (CALIBRATED, PRINTED):
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not {CALIBRATED}, {PRINTED} or a number > 0")
    return value


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register reproduce, compare and bench on the main parser's subcommands."""
    from ..flags import add_images_flag, add_network_flags, add_setting_flag

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--out", default=DEFAULT_OUT, help=f"output folder ({DEFAULT_OUT}, git-ignored)"
        )
        parser.add_argument(
            FLAG,
            action="store_true",
            dest="into_tracked",
            help="allow writing into a folder with git-tracked files (e.g. --out results)",
        )
        add_images_flag(parser)
        parser.add_argument(
            "--ratios",
            choices=RATIO_SOURCES,
            default=DEFAULT_RATIOS,
            help="Figure 2's alpha/beta values: arXiv (default) or CVPR",
        )
        parser.add_argument(
            "--ratio-scale",
            type=ratio_scale,
            default=DEFAULT_RATIO_SCALE,
            metavar=f"{CALIBRATED}|{PRINTED}|K",
            help="multiply every alpha/beta of the paper by the network's calibrated k "
            f"(tools/figures.py CALIBRATION; 1 until measured), by 1 ({PRINTED}) or by K "
            f"(default {DEFAULT_RATIO_SCALE})",
        )
        parser.add_argument("--weights", help="local VGG19 notop .h5 file")
        add_network_flags(parser, DEFAULT_NETWORK)

    run = commands.add_parser("reproduce", help="regenerate the paper's figures")
    run.add_argument(
        "figure",
        choices=(*FIGURES, "all", *PROCEDURES),
        help="which figure; calibrate: find k (tools/calibrate.py); parity: the gatys-code "
        "preset beside the authors' output (tools/parity.py)",
    )
    add_setting_flag(run, "size")
    add_setting_flag(run, "iterations")
    run.add_argument("--force", action="store_true", help="re-render panels already done")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.add_argument(
        "--panel-format",
        choices=PANEL_FORMATS,
        default="png",
        help="panels as PNG (lossless, default) or JPEG (the old lossy panels, reused "
        "where their settings match; a JPEG panel never answers a PNG one)",
    )
    add_setting_flag(run, "precision")
    add_setting_flag(run, "lbfgs_history")  # the committed figures used 20 (results/README)
    run.add_argument(
        "--start",
        choices=STARTS,
        help="where every panel's optimisation starts (the init figure keeps its own): noise "
        "(the paper's) or content (the photo, the authors' code's); default: the start the "
        "network's k was calibrated for with --ratio-scale calibrated, else noise",
    )
    calibrate = run.add_argument_group("reproduce calibrate")
    calibrate.add_argument(
        "--check-sizes",
        type=int,
        nargs="+",
        metavar="PX",
        help="instead of calibrating: panel C with the calibrated k beside gatys-code at "
        "these sizes, panel C's measure (--criterion's) against it",
    )
    calibrate.add_argument(
        "--reference",
        choices=REFERENCES,
        default=DEFAULT_REFERENCE,
        help="what panel C's balance is matched to: gatys-code (default: our render of the "
        "authors' method at the same size, lossless) or authors (their notebook's output, a "
        "resampled screenshot)",
    )
    calibrate.add_argument(
        "--criterion",
        choices=CRITERIA,
        help="what k matches: content (panel C's content loss = the reference's) or balance "
        "(both losses the same multiple of the reference's); default: the one the network's "
        "k was recorded with",
    )
    calibrate.add_argument(
        "--max-steps", type=int, default=MAX_STEPS, help=f"renders at most ({MAX_STEPS})"
    )
    calibrate.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"the criterion's measure within this of 1 ({TOLERANCE})",
    )
    calibrate.add_argument(
        "--k-start", type=float, help="first k (default: the network's recorded k)"
    )
    common(run)
    from ..jobs import add_arguments as add_job_arguments

    add_job_arguments(run, force=False)  # --workers, --ray-address, --cpus-per-task
    run.set_defaults(handler=_reproduce)

    compare = commands.add_parser(
        "compare", help="score published Figure 2 results and ours under the same objective"
    )
    common(compare)
    compare.set_defaults(handler=_compare)

    from .bench import add_arguments as add_bench_arguments

    bench = commands.add_parser("bench", help="benchmark against the hardware floor (bench.py)")
    add_bench_arguments(bench)
    bench.set_defaults(handler=_bench)


def _reproduce(args: argparse.Namespace) -> int:
    from ..jobs import placement_from_args
    from .reproduce import reproduce

    _images_for_everything(args.images)
    base = Settings(
        weights=args.weights, calibration=args.calibration, precision=args.precision,
        lbfgs_history=args.lbfgs_history, init=args.start,
    )  # fmt: skip
    if args.figure in PROCEDURES:
        return _procedure(args, base)
    reproduce(
        args.figure, args.out, size=args.size, iterations=args.iterations,
        images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, settings=base, force=args.force,
        into_tracked=args.into_tracked, placement=placement_from_args(args),
        panel_format=args.panel_format,
    )  # fmt: skip
    return errors.EXIT_OK


def _procedure(args: argparse.Namespace, base: Settings) -> int:
    """``reproduce calibrate`` (or its ``--check-sizes``) and ``reproduce parity``."""
    import dataclasses

    from .tracked import check_writable

    check_writable(args.out, args.into_tracked)
    base = dataclasses.replace(
        base, size=args.size, iterations=args.iterations, network=args.network
    )
    if args.figure == "parity":
        from .parity import parity

        parity(args.out, base, images_dir=args.images)
        return errors.EXIT_OK
    from . import calibrate

    if args.check_sizes:
        calibrate.check_sizes(
            args.out, base, args.check_sizes, images_dir=args.images,
            ratio_scale=args.ratio_scale, criterion=args.criterion,
        )  # fmt: skip
        return errors.EXIT_OK
    record = calibrate.calibrate(
        args.out, base, images_dir=args.images, reference=args.reference,
        criterion=args.criterion, k_start=args.k_start, tolerance=args.tolerance,
        max_steps=args.max_steps,
    )  # fmt: skip
    return errors.EXIT_OK if record["converged"] else errors.EXIT_SOME_FAILED


def _images_for_everything(folder: str | None) -> None:
    """--images also serves what looks for the paper's images without being told the folder:
    the normalised network's default calibration set (also in local Ray workers, which
    inherit the environment). An explicit $STYLE_TRANSFER_IMAGES is left as it is."""
    if folder is not None:
        os.environ.setdefault(data.ENV_VAR, os.path.abspath(folder))


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare

    _images_for_everything(args.images)
    compare(
        args.out, images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, weights=args.weights, calibration=args.calibration,
        into_tracked=args.into_tracked,
    )  # fmt: skip
    return errors.EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from .bench import main_from_args

    return main_from_args(args)
