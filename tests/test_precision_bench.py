"""The time-to-objective and precision-panels experiments at a tiny size (issue 17)."""

import json
from pathlib import Path

import pytest

from style_transfer.settings import LBFGS_HISTORY
from style_transfer.tools import precision_bench


@pytest.mark.slow
def test_time_to_objective_stops_auto_once_within_1pct(machine_precision):
    (record,) = precision_bench.time_to_objective(
        [32], iterations=6, every=2, histories=(3,), optimizers=("lbfgs-tf",)
    )
    reference, auto = record["float32"], record["auto"]
    assert reference["lbfgs_history"] == auto["lbfgs_history"] == LBFGS_HISTORY
    assert reference["optimizer"] == auto["optimizer"] == "lbfgs"
    other = record["auto_lbfgs-tf"]  # the same target, the optimiser with its state in TF
    assert other["optimizer"] == "lbfgs-tf" and other["precision"]["requested"] == "auto"
    assert other["trace"][0][1] == 0 and 1 <= other["trace"][-1][1] <= other["iterations"]
    assert record["auto_history_3"]["lbfgs_history"] == 3  # the same target, another history
    assert record["auto_history_3"]["precision"]["requested"] == "auto"
    assert [i for _, i, _ in reference["trace"]] == [0, 2, 4, 6]  # scored every 2 and the last
    assert record["target_total_float32"] == reference["trace"][-1][2]
    assert reference["iterations_to_within_1pct"] <= 6
    seconds = [t for t, _, _ in auto["trace"]]
    assert seconds == sorted(seconds) and seconds[0] == 0.0
    reached = auto["iterations_to_within_1pct"]
    if reached is not None:  # then auto stopped there
        assert auto["iterations"] == reached == auto["trace"][-1][1]
        assert auto["trace"][-1][2] <= record["target_total_float32"] * 1.01
    assert auto["precision"]["requested"] == "auto"
    json.dumps(record)  # the report is plain JSON


@pytest.mark.slow
def test_precision_panels_score_in_float32_and_write_pairs(tmp_path: Path):
    (row,) = precision_bench.precision_panels(tmp_path, iterations=2, panels=(("C", 32),))
    assert row["panel"] == "C" and row["size"] == 32
    # Under the tests' pin auto runs float32, so both runs and their scores agree exactly.
    assert row["auto"]["precision"]["used"] == "float32"
    assert row["auto_over_float32"] == 1.0 and row["within_half_percent"]
    assert Path(row["side_by_side"]).is_file() and Path(row["float32"]["image"]).is_file()
    # the images scored are the ones optimised: lossless (a JPEG's style loss is ~12x off)
    assert all(Path(row[p]["image"]).suffix == ".png" for p in ("float32", "auto"))
    json.dumps(row)
