"""Does running L-BFGS-B's BLAS on one thread (``optimize.one_blas_thread``) pay in a real run?

``bench --experiment lbfgs-overhead`` measures scipy's own time per iteration on a quadratic
stand-in, one BLAS thread against the library's default. This times real iterations (our
Evaluator at 512 px, per precision, with ``bench``'s own wrapper: ``lbfgs_iterations``)
with the limit as runs use it and with it lifted, alternating, in one process, so the two
settings share the machine's state. Prints the time per iteration and the part of it spent
outside TensorFlow, as the median over the rounds, and writes them as JSON.

  python benchmarks/blas_threads.py --size 512 --rounds 3 --json results/bench/blas_threads_512.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os

import numpy as np

from style_transfer import optimize
from style_transfer.tools.bench import lbfgs_iterations
from style_transfer.tools.lbfgs_overhead import blas_threads
from style_transfer.tools.workload import build_ours

SETTINGS = {"one thread": optimize.one_blas_thread, "default threads": contextlib.nullcontext}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--precisions", nargs="+", default=["float32", "auto"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20, help="timed per round")
    parser.add_argument("--weights")
    parser.add_argument("--json")
    args = parser.parse_args()
    limit = optimize.one_blas_thread
    records = []
    for precision in args.precisions:
        evaluator, x0, _, _ = build_ours(args.size, precision, args.weights)
        evaluator(x0 + 0.5)  # trace and warm up
        runs: dict[str, list[dict]] = {name: [] for name in SETTINGS}
        for round_ in range(args.rounds):
            for name, context in SETTINGS.items():
                optimize.one_blas_thread = context  # what optimize._lbfgs enters
                try:
                    with context():
                        threads = blas_threads()
                    run = lbfgs_iterations(evaluator, x0 + round_, args.iterations)
                finally:
                    optimize.one_blas_thread = limit
                runs[name].append({**run, "blas_threads": threads})
        record = {"size": args.size, "precision": precision, "rounds": runs}
        for name, values in runs.items():
            record[name] = {
                key: float(np.median([v[key] for v in values]))
                for key in ("s_per_iteration", "outside_tf_s_per_iteration")
            }
            print(
                f"{args.size} px {precision:8s} {name:16s} "
                f"{record[name]['s_per_iteration']:.3f} s per iteration, "
                f"{record[name]['outside_tf_s_per_iteration'] * 1e3:.1f} ms outside TensorFlow "
                f"(BLAS threads {values[0]['blas_threads']})"
            )
        records.append(record)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"load_average": os.getloadavg(), "results": records}, file, indent=2)


if __name__ == "__main__":
    main()
