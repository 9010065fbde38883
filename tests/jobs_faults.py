"""Test-only fault for Ray workers (``worker_process_setup_hook`` in tests/test_jobs.py).

A job whose name starts with ``crash-once`` kills its worker process (``os._exit``, as the
kernel's OOM killer or a lost node would) on its first attempt only: the first attempt
leaves ``OUTPUT.crashed`` beside the output (the tests share one file system) and dies;
Ray's retry then finds the marker and runs the job normally.
"""

from __future__ import annotations

import os
from pathlib import Path

CRASH_PREFIX = "crash-once"


def install() -> None:
    from style_transfer import runners

    real = runners._execute

    def execute(job):
        if job.name.startswith(CRASH_PREFIX):
            marker = Path(f"{job.output}.crashed")
            if not marker.exists():
                marker.touch()
                os._exit(1)
        return real(job)

    runners._execute = execute
