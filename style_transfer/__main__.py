"""``python -m style_transfer`` and the ``style-transfer`` command (pyproject's script).

Both start here so that a Ctrl-C while the libraries are still loading (TensorFlow takes
seconds) ends with one line and exit code 130, never a traceback; from then on
``cli.main`` turns every outcome into an exit code.
"""

import sys


def main() -> int:
    try:
        from .cli import main as run
    except KeyboardInterrupt:  # nothing was started
        print("interrupted while starting; nothing was written", file=sys.stderr)
        return 130  # errors.EXIT_INTERRUPTED (not imported: it may be what was interrupted)
    return run()


if __name__ == "__main__":
    sys.exit(main())
