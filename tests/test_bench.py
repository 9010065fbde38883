"""The benchmark command runs at a tiny size and writes its JSON; its FLOP count by hand."""

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from timeouts import timeout_for

from style_transfer.settings import LBFGS_HISTORY
from style_transfer.tools import experiments
from style_transfer.tools.bench import (
    add_arguments,
    format_table,
    iterations_or_default,
    panel_at_size,
)
from style_transfer.tools.machine import conv_flops, floor_flops
from style_transfer.tools.workload import image_shape


def test_conv_flops_counted_by_hand():
    # conv1_1: 3 -> 64 channels, 3x3, at every one of 8x8 positions, 2 FLOPs per multiply-add.
    assert conv_flops(8, 8, "block1_conv1") == 2 * 64 * 9 * 3 * 64
    # conv1_2 (64 -> 64 at 8x8), then conv2_1 (64 -> 128 at 4x4, after a pooling).
    assert conv_flops(8, 8, "block2_conv1") == 2 * 9 * (64 * 3 * 64 + 64 * 64 * 64 + 16 * 64 * 128)
    assert floor_flops(8, 8, "block2_conv1") == 2 * conv_flops(8, 8, "block2_conv1")


def test_image_shape_is_4_by_3_landscape():
    assert image_shape(512) == (384, 512)
    assert image_shape(1024) == (768, 1024)


@pytest.mark.subprocess
def test_peak_rss_sees_a_large_allocation():
    """In a fresh interpreter, so that no earlier peak hides the allocation."""
    code = (
        "import numpy as np; from style_transfer.tools.machine import peak_rss_bytes as p; "
        "a = p(); b = np.ones(300 * 2**20 // 8); print(a, p())"  # 300 MiB, every page touched
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert 250 * 2**20 < after - before < 400 * 2**20


@pytest.mark.slow
@pytest.mark.subprocess
def test_bench_command_runs_at_a_tiny_size(tmp_path):
    output = tmp_path / "bench.json"
    process = subprocess.run(
        [
            sys.executable, "-m", "style_transfer", "bench", "--sizes", "48", "--repeats", "1",
            "--iterations", "2", "--rss-steps", "1", "--json", str(output),
            "--optimizers", "lbfgs-tf",
        ],
        capture_output=True, text=True, timeout=timeout_for(extra_s=120),
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert process.returncode == 0, process.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["matmul_gflops_per_s"] > 0 and report["machine"]["cores"] >= 1
    assert report["machine"]["threads"]["blas_during_lbfgs"] == 1  # optimize.one_blas_thread
    blas = report["machine"]["blas"]  # scipy's own BLAS at least, with its default threads
    assert blas and all(library["default_threads"] >= 1 for library in blas)
    (size,) = report["sizes"]
    assert size["size"] == [48, 36] and size["deepest_layer"] == "block5_conv1"
    for key in ("floor_s", "evaluator_s_float32", "common_step_s"):
        assert size[key] > 0, key
    assert size["evaluator_over_floor_float32"] == size["evaluator_s_float32"] / size["floor_s"]
    assert size["speedup_over_common"] == size["common_step_s"] / size["evaluator_s_float32"]
    for optimizer in ("lbfgs", "lbfgs-tf"):  # scipy's, and the one --optimizers added
        lbfgs = size[f"{optimizer}_float32"]
        assert lbfgs["optimizer"] == optimizer
        # the history fills untimed, then the 2 timed iterations
        assert lbfgs["history"] == LBFGS_HISTORY and lbfgs["iterations"] == LBFGS_HISTORY + 2
        assert lbfgs["steady_iterations"] == 2 and lbfgs["evaluations_per_iteration"] >= 1
        # < 1: the timing wrapper on Evaluator.compute saw the evaluations (else inside TF = 0)
        assert 0 <= lbfgs["outside_tf_share"] < 1
        over = size[f"{optimizer}_iteration_over_floor_float32"]  # the floor around them
        assert over == lbfgs["s_per_iteration"] / size["floor_around_iterations_s"]
    # the floor timed again after the iterations; the bars divide by all its readings' median
    readings = size["times_s"]["floor"] + size["times_s"]["floor_after_iterations"]
    assert len(readings) == 2 and size["floor_after_iterations_s"] > 0
    assert size["floor_around_iterations_s"] == pytest.approx(np.median(readings), abs=1e-4)
    for mode in ("ours", "common"):
        rss = size["rss"][mode]
        assert rss["peak_rss_bytes"] >= rss["baseline_rss_bytes"] > 0, rss
    table = format_table(report, optimizers=("lbfgs", "lbfgs-tf"))
    assert "lbfgs-tf it. s (float32)" in table.splitlines()[0]
    assert table.splitlines()[2] in process.stdout


def test_coarse_to_fine_experiment_with_its_own_baseline_budget():
    record = experiments.coarse_to_fine_experiment(96, 4, 2, baseline_iterations=2)
    assert (record["iterations"], record["baseline_iterations"]) == (4, 2)
    single, multi = record["single_scale"], record["coarse_to_fine"]
    assert len(single["per_scale"][0]["total_history"]) == 2 + 1  # the start, then 2 steps
    assert multi["schedule"] == [{"size": 48, "iterations": 4}, {"size": 96, "iterations": 2}]
    assert record["target_total"] == single["final_total"]
    reached = multi["time_to_target_s"]
    finest = multi["per_scale"][-1]["total_history"]
    assert (reached is not None) == (min(finest) <= record["target_total"])


def test_panels_flag_reads_key_and_size_and_refuses_the_rest():
    assert panel_at_size("C:512") == ("C", 512)
    for bad in ("X:512", "C", "C:", "C:big", "CC:512", ":512", "C:8"):
        with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. C:512"):
            panel_at_size(bad)


def test_whole_run_experiments_default_to_500_iterations_and_timings_to_5():
    def parsed(*flags: str) -> argparse.Namespace:
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        return parser.parse_args(list(flags))

    assert iterations_or_default(parsed("--experiment", "precision-panels")) == 500
    assert iterations_or_default(parsed("--experiment", "time-to-objective")) == 500
    assert iterations_or_default(parsed()) == 5  # speed: iterations timed
    assert (
        iterations_or_default(parsed("--experiment", "precision-panels", "--iterations", "7")) == 7
    )


def test_memory_runs_fill_the_lbfgs_history_at_the_finest_scale():
    """A peak-RSS run must write scipy's whole work array (pages count once written)."""
    from style_transfer.multiscale import schedule
    from style_transfer.settings import LBFGS_HISTORY, auto_scales
    from style_transfer.tools.peak_memory import full_history_steps

    for size in (256, 512, 1024, 2048):
        steps = full_history_steps(size)
        assert schedule(size, steps, auto_scales(size))[-1][1] >= LBFGS_HISTORY + 5, size
