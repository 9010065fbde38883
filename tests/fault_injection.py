"""Test-only fault injection, kept out of the product: the Evaluator's k-th evaluation is NaN.

It wraps the Evaluator's public ``compute`` hook. In-process, tests install ``poisoned_init``
with monkeypatch, so that evaluators built inside ``transfer`` are poisoned too. As a script
it runs the real command line with the fault in place, so a test can watch a whole process
diverge::

    python tests/fault_injection.py K transfer CONTENT STYLE -o OUT ...
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable


def poisoned_init(evaluation: int, real_init: Callable, seen: list | None = None) -> Callable:
    """An ``Evaluator.__init__`` whose evaluator returns NaN loss terms at call ``evaluation``."""

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        compute, calls = self.compute, itertools.count(1)

        def poisoned(image):
            terms, grad = compute(image)
            return (terms * float("nan") if next(calls) == evaluation else terms), grad

        self.compute = poisoned
        if seen is not None:
            seen.append(self)

    return init


def main(argv: list[str]) -> int:
    from style_transfer import cli, quiet

    quiet.import_tensorflow()  # TensorFlow first, with its start-up lines hidden as usual
    from style_transfer.evaluator import Evaluator

    Evaluator.__init__ = poisoned_init(int(argv[0]), Evaluator.__init__)
    return cli.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
