"""Errors a user can fix, and the exit codes the command line maps them to.

Every problem caused by the user's input (a missing file, a bad setting, an
unreadable image) is raised as a :class:`StyleTransferError` whose message is
one line naming the problem and the fix. The command line prints it without a
traceback and exits with the error's ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: an unexpected exception (traceback shown)
EXIT_BAD_INPUT = 2  # bad path, image, setting or flag (argparse uses 2 too)
EXIT_RESOURCE = 3  # weights or an image could not be obtained or are corrupt
EXIT_DIVERGED = 4  # the loss became non-finite; the best image so far was saved
EXIT_SOME_FAILED = 5  # many jobs (jobs.py): some failed, each said why; the others were saved
EXIT_PARTIAL = 6  # the image was saved, but a secondary output failed (a snapshot, the loss
# plot, the manifest, the progress or the final line on a closed stdout); a warning said which
EXIT_INTERRUPTED = 130  # Ctrl-C; the best image so far was saved (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (timeout, docker stop, Slurm, Kubernetes): as Ctrl-C (128 + 15)


class StyleTransferError(Exception):
    """A problem the user can fix; ``str(error)`` is one line saying how."""

    exit_code = EXIT_BAD_INPUT


class InputError(StyleTransferError):
    """A bad input file, output path or setting."""

    exit_code = EXIT_BAD_INPUT


class ResourceError(StyleTransferError):
    """Weights or an image that could not be found, fetched or verified."""

    exit_code = EXIT_RESOURCE


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C's KeyboardInterrupt would be, so a run stops the same way:
    the optimiser keeps the best image so far and the command line saves it (exit 143)."""
