"""``python -m style_transfer bench``: where each evaluation's time goes, against three yardsticks.

Measured in one process, interleaved round by round so that a busy machine slows every
candidate alike (the ratios stay fair even when the absolute figures do not):

- **floor**: VGG19 forward to the deepest layer the objective needs, plus the gradient with
  respect to the input, in one ``tf.function`` (nothing else: no Gram, no loss, no copy);
- **ours**: one ``Evaluator`` call (all loss terms and the gradient, float64 in and out, as
  scipy gets them), and one L-BFGS iteration of ``optimize.minimize`` once its history is
  full, with the share of its time spent outside TensorFlow (scipy, float64 conversion,
  callbacks); with ``--optimizers lbfgs-tf`` also an iteration of the L-BFGS whose state
  stays in TensorFlow, timed the same way. The iterations are timed after the rounds, so
  the floor is timed again after them and an iteration's "x floor" divides by the median
  of all the floor's readings (before and after); the drift between the two is recorded;
- **common**: the current keras-io ``neural_style_transfer.py`` step, re-implemented
  faithfully in ``kerasio_baseline``.

Also: the floor's arithmetic rate against a measured float32 matmul rate, and the peak
resident memory (``VmHWM``) of a real ``transfer`` and of the common approach, each in a
fresh subprocess per size so that sizes do not pollute each other (``peak_memory``).

``--experiment`` runs the other measurements of results/BENCHMARKS.md: ``coarse-to-fine``
(time to reach a single-scale run's objective), ``precision`` (float32 beside mixed after
the same iterations) and ``memory`` (peak RSS of a real run per size, e.g. 2048 px); see
``experiments``.
Benchmarks stay out of the test suite; tests/test_bench.py only runs this at a tiny size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..manifest import strict_json
from ..outputs import make_folder
from ..settings import MIN_SIZE, OPTIMIZERS, PRECISIONS
from . import machine
from .experiments import EXPERIMENTS, run_experiment
from .machine import floor_flops, matmul_gflops, seconds
from .peak_memory import child_rss, measure_rss
from .precision_bench import PANELS_OUT, RUN_ITERATIONS
from .workload import DEFAULT_SIZES, build_floor, build_ours, image_shape, synthetic_images

REPEATS = 3  # interleaved timing rounds per size; the medians are reported


def lbfgs_iterations(evaluator, x0: np.ndarray, iterations: int, optimizer: str = "lbfgs") -> dict:
    """Time ``iterations`` L-BFGS iterations (``optimizer``: scipy's ``lbfgs`` or
    ``lbfgs-tf``) once its history is full; the share of them spent outside the tf.function.

    The per-iteration cost grows with the correction pairs held, so the first
    LBFGS_HISTORY iterations (cheaper) run untimed before the ``iterations`` timed ones.
    """
    from ..network import pixel_bounds
    from ..optimize import minimize
    from ..settings import LBFGS_HISTORY

    inside = 0.0
    compute = evaluator.compute

    def timed(image):
        nonlocal inside
        started = time.perf_counter()
        terms, grad = compute(image)
        grad.numpy()  # wait for TensorFlow to finish (a GPU runs asynchronously)
        inside += time.perf_counter() - started
        return terms, grad

    marks: list[tuple[float, float, int]] = []  # (time, time inside TF, evaluations) per iteration

    def mark(iteration: int, x: np.ndarray, terms: np.ndarray) -> None:
        marks.append((time.perf_counter(), inside, evaluator.evaluations))

    # x0 was never evaluated (the timing rounds evaluate points beside it), so the cache
    # answers nothing here that the wrapper would miss.
    evaluator.compute = timed
    try:
        outcome = minimize(
            evaluator, x0, LBFGS_HISTORY + iterations, optimizer=optimizer,
            bounds=pixel_bounds(evaluator.shape), on_iteration=mark,
        )  # fmt: skip
    finally:
        evaluator.compute = compute
    record: dict = {
        "optimizer": optimizer, "history": LBFGS_HISTORY, "iterations": outcome.iterations
    }  # fmt: skip
    timed_marks = marks[LBFGS_HISTORY - 1 :]  # from the end of the history-filling iterations
    if len(timed_marks) >= 2:
        (t0, in0, e0), (t1, in1, e1) = timed_marks[0], timed_marks[-1]
        count = len(timed_marks) - 1
        record["steady_iterations"] = count
        record["s_per_iteration"] = (t1 - t0) / count
        record["evaluations_per_iteration"] = (e1 - e0) / count
        record["outside_tf_share"] = max(0.0, 1.0 - (in1 - in0) / (t1 - t0))
        record["outside_tf_s_per_iteration"] = ((t1 - t0) - (in1 - in0)) / count
    return record


def measure_size(
    size: int,
    repeats: int,
    iterations: int,
    *,
    common: bool = True,
    precisions: Sequence[str] = ("float32",),
    optimizers: Sequence[str] = ("lbfgs",),
    weights: str | None = None,
) -> dict:
    """Interleaved rounds of floor / ours (per precision) / common at one size; medians;
    then ``iterations`` timed iterations of each of ``optimizers`` per precision."""
    height, width = image_shape(size)
    ours = {p: build_ours(size, p, weights) for p in precisions}
    extractor, deepest = ours[precisions[0]][2:]  # the floor is the first precision's network
    floor = build_floor(extractor, deepest, (height, width, 3))
    candidates: dict[str, Callable[[], object]] = {"floor": floor}
    for precision, (ev, x, _, _) in ours.items():
        candidates[f"ours_{precision}"] = fresh_call(ev, x)
    if common:
        from .kerasio_baseline import build_step

        candidates["common"] = build_step(*synthetic_images(size), weights)
    for call in candidates.values():  # warm up: trace, allocate
        call()
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, call in candidates.items():
            times[name].append(seconds(call))
    median = {name: float(np.median(values)) for name, values in times.items()}
    record: dict[str, object] = {
        "size": [width, height],
        "deepest_layer": deepest,
        "repeats": repeats,
        "floor_s": median["floor"],
        "floor_gflop": floor_flops(height, width, deepest) / 1e9,
        "floor_gflops_per_s": floor_flops(height, width, deepest) / median["floor"] / 1e9,
        "times_s": {name: [round(t, 4) for t in values] for name, values in times.items()},
    }
    for precision in precisions:
        evaluator_s = median[f"ours_{precision}"]
        record[f"evaluator_s_{precision}"] = evaluator_s
        record[f"evaluator_over_floor_{precision}"] = evaluator_s / median["floor"]
    if common:
        record["common_step_s"] = median["common"]
        record["speedup_over_common"] = median["common"] / median[f"ours_{precisions[0]}"]
    if iterations:
        timed_runs = {
            (optimizer, precision): lbfgs_iterations(ev, x, iterations, optimizer)
            for precision, (ev, x, _, _) in ours.items()
            for optimizer in optimizers
        }
        # The iterations run after the interleaved rounds; the floor is timed again after
        # them, so that the iteration bars divide by a floor that brackets them in time.
        after = [seconds(floor) for _ in range(repeats)]
        record["times_s"]["floor_after_iterations"] = [round(t, 4) for t in after]
        record["floor_after_iterations_s"] = float(np.median(after))
        record["floor_around_iterations_s"] = float(np.median(times["floor"] + after))
        for (optimizer, precision), timed in timed_runs.items():
            record[f"{optimizer}_{precision}"] = timed  # lbfgs_float32, lbfgs-tf_float32, ...
            if "s_per_iteration" in timed:  # absent if L-BFGS stopped before the timed ones
                over = timed["s_per_iteration"] / record["floor_around_iterations_s"]
                record[f"{optimizer}_iteration_over_floor_{precision}"] = over
    record["load_average"] = os.getloadavg()
    return record


def fresh_call(evaluator: Callable[[np.ndarray], object], x: np.ndarray) -> Callable[[], object]:
    """An Evaluator call on a new point each time (so its small cache never answers)."""
    state = {"x": x}

    def call():
        state["x"] = state["x"] + 1e-3  # a new point: forces a real evaluation
        return evaluator(state["x"])

    return call


def run(
    sizes: Sequence[int] = DEFAULT_SIZES,
    *,
    repeats: int = REPEATS,
    iterations: int = 5,
    common: bool = True,
    precisions: Sequence[str] = ("float32",),
    optimizers: Sequence[str] = ("lbfgs",),
    rss: bool = True,
    rss_steps: int | None = None,
    weights: str | None = None,
    output: str | os.PathLike | None = "results/bench.json",
    echo: Callable[[str], None] = print,
) -> dict:
    """Measure every size, print the tables and write the JSON; returns the record."""
    report: dict[str, object] = {"command": sys.argv, "machine": machine.describe()}
    echo(f"machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
         f"GPUs: {report['machine']['gpus'] or 'none'}; load {os.getloadavg()[0]:.1f}")  # fmt: skip
    report["matmul_gflops_per_s"] = matmul_gflops()
    echo(f"float32 matmul 2048^3: {report['matmul_gflops_per_s']:.0f} GFLOP/s")
    report["sizes"] = []
    for size in sizes:
        record = measure_size(
            size, repeats, iterations, common=common, precisions=precisions,
            optimizers=optimizers, weights=weights,
        )  # fmt: skip
        record["floor_share_of_matmul"] = (
            record["floor_gflops_per_s"] / report["matmul_gflops_per_s"]
        )
        if rss:
            record["rss"] = {"ours": measure_rss("ours", size, rss_steps, precisions[0], weights)}
            if common:
                record["rss"]["common"] = measure_rss("common", size, rss_steps, weights=weights)
        report["sizes"].append(record)
        echo(f"  measured {size} px (load {os.getloadavg()[0]:.1f})")
    report["load_average_at_end"] = os.getloadavg()
    echo(format_table(report, precisions, optimizers))
    if output is not None:
        from ..manifest import write_json_atomic

        make_folder(Path(output).parent)
        write_json_atomic(output, report)
        echo(f"wrote {output}")
    return report


def format_table(
    report: dict, precisions: Sequence[str] = ("float32",), optimizers: Sequence[str] = ("lbfgs",)
) -> str:
    """The report as a Markdown table (one row per size)."""
    timed = [(o, p) for p in precisions for o in optimizers]
    head = ["size", "floor s", "GFLOP/s (% matmul)"]
    for precision in precisions:
        head += [f"Evaluator s ({precision})", "x floor"]
    for optimizer, precision in timed:
        name = "L-BFGS" if optimizer == "lbfgs" else optimizer
        head += [f"{name} it. s ({precision})", "x floor", "evals/it.", "outside TF/it."]
    head += ["common step s", "speed-up"]
    head += ["peak RSS ours", "peak RSS common"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["sizes"]:
        floor = f"{r['floor_s']:.3f}"
        if "floor_after_iterations_s" in r:
            floor += f" ({r['floor_after_iterations_s']:.3f} after)"
        row = [
            f"{r['size'][0]}x{r['size'][1]}",
            floor,
            f"{r['floor_gflops_per_s']:.0f} ({100 * r.get('floor_share_of_matmul', 0):.0f}%)",
        ]
        for precision in precisions:
            row += [f"{r[f'evaluator_s_{precision}']:.3f}",
                    f"{r[f'evaluator_over_floor_{precision}']:.3f}"]  # fmt: skip
        for optimizer, precision in timed:
            lbfgs = r.get(f"{optimizer}_{precision}")
            if lbfgs and "s_per_iteration" in lbfgs:
                row += [
                    f"{lbfgs['s_per_iteration']:.3f}",
                    f"{r[f'{optimizer}_iteration_over_floor_{precision}']:.2f}",
                    f"{lbfgs['evaluations_per_iteration']:.2f}",
                    f"{100 * lbfgs['outside_tf_share']:.1f}%",
                ]
            else:
                row += ["-"] * 4
        row += [
            f"{r['common_step_s']:.3f}" if "common_step_s" in r else "-",
            f"{r['speedup_over_common']:.2f}x" if "speedup_over_common" in r else "-",
        ]
        for mode in ("ours", "common"):
            entry = r.get("rss", {}).get(mode)
            if entry and "peak_rss_bytes" in entry:
                row.append(f"{entry['peak_rss_bytes'] / 2**30:.2f} GiB")
            else:
                row.append(entry.get("error", "-")[:40] if entry else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def panel_at_size(text: str) -> tuple[str, int]:
    """``C:512`` -> ("C", 512): a Figure 2 panel and the longer side to render it at."""
    key, _, size = text.partition(":")
    if key not in "BCDEF" or len(key) != 1 or not size.isdigit() or int(size) < MIN_SIZE:
        raise argparse.ArgumentTypeError(
            f"expected a panel B-F and a size, e.g. C:512, got {text!r}"
        )
    return key, int(size)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` flags (the CLI subcommand's and ``python -m style_transfer.tools.bench``'s)."""
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="longer sides in px (256 512 1024); images are 4:3")  # fmt: skip
    parser.add_argument(
        "--repeats", type=int, default=REPEATS, help=f"timed rounds per size ({REPEATS})"
    )
    parser.add_argument(
        "--iterations", type=int, default=None,
        help="speed: L-BFGS iterations timed, after the history fills (5); time-to-objective "
        "and precision-panels: the runs' iterations (500); lbfgs-overhead: iterations timed "
        "after the history fills (20)",
    )  # fmt: skip
    parser.add_argument(
        "--precision", choices=(*PRECISIONS, "both"), default="float32",
        help="the Evaluator's precision; both = float32 and auto side by side",
    )  # fmt: skip
    parser.add_argument("--no-common", action="store_true", help="skip the keras-io approach")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument(
        "--rss-steps", type=int,
        help="iterations per memory run (default: enough to fill the L-BFGS history at the "
        "finest scale, 15 up to 512 px, 30 at 1024, 60 at 2048)",
    )  # fmt: skip
    parser.add_argument("--weights", help="local VGG19 notop .h5 file")
    parser.add_argument("--json", default="results/bench.json", help="where to write the JSON")
    parser.add_argument(
        "--experiment", choices=("speed", *EXPERIMENTS),
        default="speed",
        help="speed: the tables above (default); coarse-to-fine: time to the single-scale "
        "objective at --sizes[0] (--scales); precision: float32 vs mixed objective after "
        "--iterations; memory: peak RSS of --rss-steps iterations per size, ours only; "
        "time-to-objective: float32 vs auto time to within 1%% of float32's --iterations "
        "objective per size; precision-panels: Figure 2 panels float32 vs auto (--out); "
        "lbfgs-overhead: scipy's own time per L-BFGS iteration, bounded and not, per "
        "--lbfgs-histories, against 5%% of an auto evaluation",
    )  # fmt: skip
    parser.add_argument("--scales", type=int, default=3, help="coarse-to-fine scales (3)")
    parser.add_argument(
        "--every", type=int, default=5,
        help="time-to-objective: score the image every N iterations (5)",
    )  # fmt: skip
    parser.add_argument(
        "--lbfgs-histories", type=int, nargs="+", metavar="M",
        help="time-to-objective: auto again with each of these L-BFGS histories (e.g. 5 20); "
        "lbfgs-overhead: the histories measured (5 10 20)",
    )  # fmt: skip
    parser.add_argument(
        "--optimizers", nargs="+", choices=OPTIMIZERS, metavar="NAME",
        help="time-to-objective: auto again with each of these optimisers (e.g. lbfgs-tf); "
        "speed: time these optimisers' iterations too, beside scipy's",
    )  # fmt: skip
    parser.add_argument(
        "--panels", type=panel_at_size, nargs="+", metavar="KEY:PX",
        help="precision-panels: which Figure 2 panels at which sizes (default: "
        "B:512 C:512 D:512 F:512 C:256 F:256)",
    )  # fmt: skip
    parser.add_argument(
        "--out", default=PANELS_OUT,
        help=f"precision-panels: where the images go ({PANELS_OUT})",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-iterations", type=int, default=None,
        help="coarse-to-fine: iterations of the single-scale run that sets the target "
        "(default: --iterations)",
    )  # fmt: skip


# An experiment's --iterations when none is given: the two that reproduce whole runs need
# the 500 (5 would compare images after 5 iterations), scipy's own time per
# iteration is cheap and noisy, the other timings need a few.
ITERATIONS = {
    "time-to-objective": RUN_ITERATIONS, "precision-panels": RUN_ITERATIONS, "lbfgs-overhead": 20
}  # fmt: skip


def iterations_or_default(args: argparse.Namespace) -> int:
    if args.iterations is not None:
        return args.iterations
    return ITERATIONS.get(args.experiment, 5)


def main_from_args(args: argparse.Namespace) -> int:
    args.iterations = iterations_or_default(args)
    if args.json:  # a folder that cannot be made fails now, not after the measurements
        make_folder(Path(args.json).parent)
    precisions = ("float32", "auto") if args.precision == "both" else (args.precision,)
    if args.experiment != "speed":
        records = run_experiment(args, precisions)
        report = {"command": sys.argv, "experiment": args.experiment, "machine": machine.describe()}
        report["results"] = records
        print(json.dumps(strict_json(records), indent=2, allow_nan=False))
        if args.json:
            from ..manifest import write_json_atomic

            make_folder(Path(args.json).parent)
            write_json_atomic(args.json, report)
        return 0
    run(
        args.sizes, repeats=args.repeats, iterations=args.iterations, common=not args.no_common,
        precisions=precisions, optimizers=tuple(dict.fromkeys(("lbfgs", *(args.optimizers or ())))),
        rss=not args.no_rss, rss_steps=args.rss_steps, weights=args.weights, output=args.json,
    )  # fmt: skip
    return 0


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m style_transfer.tools.bench")
    add_arguments(parser)
    parser.add_argument("--child", choices=("ours", "common"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.iterations = iterations_or_default(args)
    if args.child:  # one peak-memory measurement, printed as one JSON line
        precision = "float32" if args.precision == "both" else args.precision
        record = child_rss(args.child, args.sizes[0], args.iterations, precision, args.weights)
        print(json.dumps(strict_json(record), allow_nan=False))
        return 0
    return main_from_args(args)


if __name__ == "__main__":
    sys.exit(_main())
