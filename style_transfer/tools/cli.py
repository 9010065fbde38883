"""The research subcommands of ``python -m style_transfer``: reproduce, compare, bench.

``style_transfer.cli`` calls :func:`add_commands`; each subcommand stores its handler as
``args.handler``. Only flags are defined here: a handler imports its tool when it runs, so
``transfer`` does not pay for rendering, scoring or benchmarking code.
"""

from __future__ import annotations

import argparse

from .. import errors
from ..settings import Settings
from .figures import DEFAULT_NETWORK, DEFAULT_RATIO_SCALE, FIGURES, RATIO_SOURCES
from .tracked import DEFAULT_OUT, FLAG


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Register reproduce, compare and bench on the main parser's subcommands."""
    from ..cli import _add_network_flags, add_setting_flag

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
        parser.add_argument(
            "--images",
            help="folder with the paper's images (or set STYLE_TRANSFER_IMAGES; "
            "default: download them into the Keras cache)",
        )
        parser.add_argument(
            "--ratios",
            choices=RATIO_SOURCES,
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
    add_setting_flag(run, "precision")
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

    base = Settings(weights=args.weights, calibration=args.calibration, precision=args.precision)
    reproduce(
        args.figure, args.out, size=args.size, iterations=args.iterations,
        images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, settings=base, force=args.force,
        into_tracked=args.into_tracked, placement=placement_from_args(args),
    )  # fmt: skip
    return errors.EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare

    compare(
        args.out, images_dir=args.images, network=args.network, ratios=args.ratios,
        ratio_scale=args.ratio_scale, weights=args.weights, calibration=args.calibration,
        into_tracked=args.into_tracked,
    )  # fmt: skip
    return errors.EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from .bench import main_from_args

    return main_from_args(args)
