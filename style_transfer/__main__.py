import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while the libraries load: nothing was started
    print("interrupted while starting; nothing was written", file=sys.stderr)
    sys.exit(130)  # errors.EXIT_INTERRUPTED (not imported: it may be what was interrupted)

sys.exit(main())
