"""Command line: ``python -m style_transfer transfer|score|weights ...``.

A thin layer over the Python API: it parses flags into ``Settings``, calls the
API, and turns every user error into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence

from . import data, errors, quiet
from .errors import StyleTransferError
from .flags import GROUP_TITLES, add_images_flag, add_setting_flags, setting_names
from .manifest import strict_json
from .paths import quoted
from .settings import Settings

SCORE_KEYS = ("content_loss", "style_loss", "tv_loss", "total_loss")
EXIT_CODES_HELP = f"""exit codes (errors.py):
  {errors.EXIT_OK}    done
  {errors.EXIT_INTERNAL}    a bug (a traceback follows; please report it)
  {errors.EXIT_BAD_INPUT}    bad input: a path, image, setting or flag ('error:' says the fix)
  {errors.EXIT_RESOURCE}    weights or a paper image could not be obtained or are corrupt
  {errors.EXIT_DIVERGED}    the loss became non-finite; the best image so far was saved
  {errors.EXIT_SOME_FAILED}    sweep/batch: some jobs failed; the others were saved
  {errors.EXIT_PARTIAL}    image saved, but a snapshot, the loss plot, the manifest or stdout failed
  {errors.EXIT_INTERRUPTED}  Ctrl-C: the best image so far was saved
  {errors.EXIT_TERMINATED}  SIGTERM (timeout, docker stop, Slurm, Kubernetes): as Ctrl-C"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not usage + error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(errors.EXIT_BAD_INPUT, f"error: {message}; see '{self.prog} --help'\n")


def program_name(argv0: str | None = None) -> str:
    """How the user started us: ``style-transfer`` (the installed script) or ``python -m``."""
    name = os.path.basename(sys.argv[0] if argv0 is None else argv0)
    return "style-transfer" if name.startswith("style-transfer") else "python -m style_transfer"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=program_name(),
        description="Gatys, Ecker & Bethge, 'A Neural Algorithm of Artistic Style', in TF2/Keras.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("transfer", help="repaint CONTENT in the style of STYLE")
    run.add_argument(
        "content",
        help="content image (the photo); a paper image's name, e.g. tubingen, if no "
        "such file exists",
    )
    run.add_argument(
        "style",
        nargs="+",
        help="style image(s) (the painting; several are blended); or a "
        "paper image's name: starry_night, shipwreck, the_scream, composition_vii",
    )
    run.add_argument("-o", "--output", required=True, help="output image, e.g. out.png")
    add_images_flag(run)
    sections = add_setting_flags(run, setting_names("transfer"), GROUP_TITLES)
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    regions = sections["beyond"]
    regions.add_argument(
        "--masks",
        nargs="+",
        metavar="MASK",
        help="one mask image per STYLE, white = region: region i is painted in style i",
    )
    regions.add_argument(
        "--style-masks",
        nargs="+",
        metavar="MASK",
        help="one mask per STYLE selecting the part of it to copy ('all' = whole image)",
    )

    score = commands.add_parser("score", help="evaluate the objective for any image")
    score.add_argument("image", help="the image to score, at its own size")
    score.add_argument("--content", required=True, help="content image (resized to IMAGE)")
    score.add_argument(
        "--style", required=True, nargs="+", help="style image(s) (resized per the preset)"
    )
    score.add_argument("--json", action="store_true", help="print one JSON object")
    add_images_flag(score)
    objective = {"objective": GROUP_TITLES["objective"]}
    add_setting_flags(score, setting_names("score"), objective)

    from .sweep import add_commands as add_job_commands  # sweep, batch (jobs.py)

    add_job_commands(commands)
    from .tools.cli import add_commands as add_tool_commands  # reproduce, compare, bench

    add_tool_commands(commands)

    weights = commands.add_parser("weights", help="find (or fetch) the VGG19 weights")
    weights.add_argument("--weights", help="a local file to check instead")
    weights.add_argument("--no-download", action="store_true", help="never use the network")
    for command in commands.choices.values():
        command.add_argument(
            "--verbose", action="store_true", help="show TensorFlow's own log lines (hidden)"
        )
    return parser


def _settings(args: argparse.Namespace, command: str) -> Settings:
    return Settings(**{name: getattr(args, name) for name in setting_names(command)})


def _transfer(args: argparse.Namespace) -> int:
    from .api import transfer

    settings = _settings(args, "transfer")
    content = _content_path(args.content, args.images)
    result = transfer(
        content,
        [data.input_path(style, args.images) for style in args.style],
        settings,
        output=args.output,
        progress=not args.quiet,
        masks=args.masks,
        style_masks=args.style_masks,
    )
    optimizer = result.manifest["optimizer"]
    where = quoted(result.saved_to)
    if result.status == "interrupted":
        stopped = "terminated" if "SIGTERM" in result.stop_reason else "interrupted"
        print(f"{stopped}: saved the best image so far to {where}", file=sys.stderr)
        return errors.EXIT_TERMINATED if stopped == "terminated" else errors.EXIT_INTERRUPTED
    if result.status == "diverged":
        print(f"{result.stop_reason}; saved it to {where}", file=sys.stderr)
        return errors.EXIT_DIVERGED
    said = _say(
        f"saved {where} ({optimizer['iterations']} iterations, "
        f"{optimizer['function_evaluations']} evaluations, {optimizer['stop_reason']})"
    )
    return errors.EXIT_PARTIAL if result.problems or not said else errors.EXIT_OK


def _say(text: str) -> bool:
    """Print ``text`` to stdout; False (with a one-line warning) if stdout is closed or broken."""
    try:
        print(text, flush=True)
    except (OSError, ValueError) as error:  # BrokenPipeError (| head -c 1), a closed stdout
        _silence_stdout()
        reason = " ".join(str(error).split()) or type(error).__name__
        print(f"warning: could not print to stdout ({reason}); the files were written",
              file=sys.stderr)  # fmt: skip
        return False
    return True


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's own flush at exit cannot fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the process)


def _content_path(argument: str, images_dir: str | None) -> str:
    """The content image's path, checked before a style named by the paper is downloaded
    (a mistyped photo should not wait for, or be hidden by, another input's download)."""
    from .images import check_file

    path = data.input_path(argument, images_dir)
    check_file(path, "content image")
    return path


def _score(args: argparse.Namespace) -> int:
    from .api import score

    settings = _settings(args, "score")
    content = _content_path(args.content, args.images)
    styles = [data.input_path(style, args.images) for style in args.style]
    report = score(args.image, content, styles, settings)
    if args.json:
        said = _say(json.dumps(strict_json(report), indent=2, allow_nan=False))
    else:
        lines = [f"{key:14s} {report[key]:.6g}" for key in SCORE_KEYS]
        lines += [f"  E[{layer}] {value:.6g}" for layer, value in report["style_losses"].items()]
        said = _say("\n".join(lines))
    return errors.EXIT_OK if said else errors.EXIT_PARTIAL


def _weights(args: argparse.Namespace) -> int:
    from .weights import locate_weights, weights_info

    path, account = locate_weights(args.weights, download=not args.no_download)
    info = weights_info(path)
    official = "official Keras file" if info["official"] else "NOT the official Keras file"
    print(f"{quoted(info['path'])}\nmd5 {info['md5']} ({official})\n{account}")
    return errors.EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every outcome is an exit code (errors.py), never a traceback for
    a user's error, Ctrl-C or SIGTERM, even while the libraries are still loading."""
    with _sigterm_as_interrupt():
        try:
            code = _main(argv)
        except KeyboardInterrupt as stop:  # before the optimisation, or during the save
            terminated = isinstance(stop, errors.Terminated)
            print(
                f"{'terminated' if terminated else 'interrupted'} before a result was saved; "
                "any earlier file of that name is unchanged",
                file=sys.stderr,
            )
            code = errors.EXIT_TERMINATED if terminated else errors.EXIT_INTERRUPTED
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()
        code = code or errors.EXIT_PARTIAL
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        os.environ[quiet.VERBOSE_VAR] = "1"
    if args.command != "weights":  # weights needs TensorFlow only to download (quiet.py too)
        quiet.import_tensorflow()
    handler = getattr(args, "handler", None) or {
        "transfer": _transfer, "score": _score, "weights": _weights,
    }[args.command]  # fmt: skip
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warn_in_one_line
            return handler(args)
    except StyleTransferError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``errors.Terminated`` (a KeyboardInterrupt) while the command runs, so
    a run ends as after Ctrl-C, with the best image so far saved; a second SIGTERM during
    that save is ignored. Only the main thread can set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise errors.Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (an animation's first frame used, unofficial weights) as one stderr line."""
    print(f"warning: {' '.join(str(message).split())}", file=sys.stderr)
