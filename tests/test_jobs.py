"""jobs.run_jobs in-process and on a real local Ray (2 workers, 32 px, a few iterations).

One module-scoped local Ray serves every Ray test (its start-up costs seconds); its workers
run ``jobs_faults.install`` first, so a job named ``crash-once...`` kills its worker once.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path

import pytest

from style_transfer import errors, jobs, runners
from style_transfer.errors import InputError
from style_transfer.jobs import FAILED, REUSED, SAVED, Job, Placement, run_jobs
from style_transfer.manifest import manifest_path
from style_transfer.settings import Settings
from style_transfer.sweep import parse_grid, sweep_jobs

TESTS = Path(__file__).resolve().parent
# float32, not auto: conftest pins auto to float32 in this process only, not in Ray workers
SMALL = Settings(size=32, iterations=3, precision="float32")
GRID = ["ratio=1e-4,1e-3", "style-layers=conv1_1:conv1_1,conv2_1"]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    path = os.pathsep.join(p for p in (str(TESTS), *sys.path) if p)  # jobs_faults + the package
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        runtime_env={
            "env_vars": {"PYTHONPATH": path},
            "worker_process_setup_hook": "jobs_faults.install",
        },
    )
    yield ray
    ray.shutdown()


def _sweep(out: Path, tubingen: Path, starry_night: Path) -> list[Job]:
    out.mkdir(exist_ok=True)
    return sweep_jobs(tubingen, [starry_night], parse_grid(GRID), SMALL, out)


def _quiet(line: str) -> None:
    pass


@pytest.mark.slow
@pytest.mark.subprocess
def test_ray_sweep_equals_the_in_process_sweep(local_ray, tmp_path, tubingen, starry_night):
    here = run_jobs(_sweep(tmp_path / "here", tubingen, starry_night), report=_quiet)
    there = run_jobs(
        _sweep(tmp_path / "ray", tubingen, starry_night), Placement(workers=2), report=_quiet
    )
    assert [o.status for o in here.outcomes] == [SAVED] * 4
    assert [o.status for o in there.outcomes] == [SAVED] * 4
    assert there.exit_code == errors.EXIT_OK
    for a, b in zip(here.outcomes, there.outcomes):
        assert a.job.name == b.job.name
        ours, theirs = a.manifest, b.manifest
        total = ours["final_loss"]["total"]
        assert math.isclose(total, theirs["final_loss"]["total"], rel_tol=1e-5)
        assert ours["settings"] == theirs["settings"]
        assert ours["inputs"] == theirs["inputs"]  # the driver's paths, not the worker's copies
        assert ours["execution"]["runner"] == "in-process"
        assert theirs["execution"]["runner"] == "ray"
        assert theirs["execution"]["tensorflow_threads"] == {"intra_op": 1, "inter_op": 1}
        on_disk = json.loads(manifest_path(b.job.output).read_text())
        assert on_disk["output"]["path"] == str(b.job.output)
        assert on_disk["command"] == ours["command"]  # the driver's command, not Ray's worker

    # resume: every finished job is reused; one whose manifest is gone runs again
    manifest_path(there.outcomes[2].job.output).unlink()
    again = run_jobs(
        _sweep(tmp_path / "ray", tubingen, starry_night), Placement(workers=2), report=_quiet
    )
    assert [o.status for o in again.outcomes] == [REUSED, REUSED, SAVED, REUSED]
    # a changed setting is a different job
    changed = [
        Job(j.name, j.content, j.styles, Settings(size=32, iterations=4), j.output)
        for j in _sweep(tmp_path / "ray", tubingen, starry_night)[:1]
    ]
    assert not jobs.reusable(changed[0])


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_killed_worker_is_retried_and_its_job_completes(
    local_ray, tmp_path, tubingen, starry_night
):
    job = Job("crash-once", tubingen, (starry_night,), SMALL, tmp_path / "crash.png")
    report = run_jobs([job], Placement(workers=2), report=_quiet)
    assert Path(f"{tmp_path / 'crash.png'}.crashed").exists()  # the first attempt did die
    assert [o.status for o in report.outcomes] == [SAVED]
    assert jobs.reusable(job)
    assert not list(tmp_path.glob(".*.tmp"))  # no half-written file anywhere


@pytest.mark.slow
@pytest.mark.subprocess
def test_a_bad_job_fails_alone(local_ray, tmp_path, tubingen, starry_night):
    broken = tmp_path / "broken.jpg"
    broken.write_text("not an image")
    batch = [
        Job("good", tubingen, (starry_night,), SMALL, tmp_path / "good.png"),
        Job("unreadable style", tubingen, (broken,), SMALL, tmp_path / "bad_style.png"),
        Job("tiny", tubingen, (starry_night,), Settings(size=8), tmp_path / "tiny.png"),
    ]
    lines: list[str] = []
    report = run_jobs(batch, Placement(workers=2), report=lines.append)
    assert [o.status for o in report.outcomes] == [SAVED, FAILED, FAILED]
    assert report.exit_code == errors.EXIT_SOME_FAILED
    unreadable, tiny = report.outcomes[1].error, report.outcomes[2].error
    # raised in the worker, reported with the driver's path and as one line
    assert f"cannot read style image {str(broken)!r}" in unreadable
    assert "\n" not in unreadable
    assert tiny.startswith("size must be between 16")  # refused by the driver before any work
    assert not (tmp_path / "bad_style.png").exists()
    assert any("[1/3]" in line or "[2/3]" in line for line in lines)


def test_ray_flags_without_ray_name_the_extra(monkeypatch, tmp_path, tubingen, starry_night):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    job = Job("one", tubingen, (starry_night,), SMALL, tmp_path / "one.png")
    with pytest.raises(InputError, match=r'pip install "style-transfer\[cluster\]"'):
        run_jobs([job], Placement(workers=2), report=_quiet)


def test_ctrl_c_keeps_finished_jobs(monkeypatch, tmp_path, tubingen, starry_night):
    real, calls = runners._execute, []

    def interrupt_second(job):
        calls.append(job.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(runners, "_execute", interrupt_second)
    batch = [
        Job(name, tubingen, (starry_night,), SMALL, tmp_path / f"{name}.png")
        for name in ("a", "b", "c")
    ]
    report = run_jobs(batch, report=_quiet)
    assert [o.status for o in report.outcomes] == [SAVED, "not run", "not run"]
    assert report.interrupted and report.exit_code == errors.EXIT_INTERRUPTED
    assert jobs.reusable(batch[0]) and not (tmp_path / "b.png").exists()


def test_two_jobs_writing_one_file_or_over_an_input_are_refused(tmp_path, tubingen, starry_night):
    same = [Job(n, tubingen, (starry_night,), SMALL, tmp_path / "x.png") for n in "ab"]
    with pytest.raises(InputError, match="would both write"):
        run_jobs(same, report=_quiet)
    copy = tmp_path / "content.png"
    copy.write_bytes(b"")
    over = [
        Job("reads", copy, (starry_night,), SMALL, tmp_path / "y.png"),
        Job("writes", tubingen, (starry_night,), SMALL, copy),
    ]
    report = run_jobs(over, report=_quiet)
    assert report.outcomes[1].status == FAILED
    assert "would overwrite the input" in report.outcomes[1].error


def test_placement_is_checked():
    with pytest.raises(InputError, match="give one of them"):
        Placement(workers=2, address="auto").check()
    with pytest.raises(InputError, match="at least 1"):
        Placement(workers=0).check()


def test_plan_schedules_longest_panels_first():
    from style_transfer.tools.jobs_bench import makespan

    assert makespan([3.0, 4.0, 5.0], 2) == 7.0  # 5 | 4 + 3
    assert makespan([3.0, 4.0, 5.0], 2, overhead=1.0) == 9.0  # 5+1 | 4+1 + 3+1
    assert makespan([3.0, 4.0, 5.0], 8) == 5.0
    assert makespan([1.0] * 6, 3) == 2.0


def test_an_address_nobody_listens_on_fails_fast_in_one_line(
    monkeypatch, tmp_path, tubingen, starry_night
):
    import socket

    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as if no test's Ray were up

    with socket.socket() as free:  # a port that was free a moment ago
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    job = Job("one", tubingen, (starry_night,), SMALL, tmp_path / "one.png")
    with pytest.raises(InputError, match=f"cannot join the Ray cluster at '127.0.0.1:{port}'"):
        run_jobs([job], Placement(address=f"127.0.0.1:{port}"), report=_quiet)


@pytest.mark.slow
@pytest.mark.subprocess
def test_reproduce_runs_its_panels_on_ray_and_resumes_in_process(local_ray, tmp_path, images_dir):
    from style_transfer.tools import reproduce

    def run(placement: Placement | None, lines: list[str]) -> list[Path]:
        return reproduce.reproduce(
            "fig2", tmp_path, size=32, iterations=2, images_dir=images_dir,
            settings=Settings(precision="float32"), placement=placement, report=lines.append,
        )  # fmt: skip

    on_ray: list[str] = []
    figures = run(Placement(workers=2), on_ray)
    assert (tmp_path / "fig2.jpg") in figures
    rendered = [line for line in on_ray if ": saved " in line]
    assert len(rendered) >= 4  # B, C, D, F (E too where the Picasso is available)
    manifest = json.loads(manifest_path(tmp_path / "fig2" / "B_shipwreck.png").read_text())
    assert manifest["execution"]["runner"] == "ray"
    here: list[str] = []
    run(None, here)
    assert sum("reusing" in line for line in here) == len(rendered)
