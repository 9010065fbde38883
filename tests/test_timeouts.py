"""The subprocess timeouts grow with the work and the load (tests/timeouts.py)."""

from __future__ import annotations

import os

import timeouts
from timeouts import timeout_for


def test_the_wait_grows_with_the_work(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.delenv("STYLE_TRANSFER_TEST_TIMEOUT_SCALE", raising=False)
    small = timeout_for(iterations=2)
    assert small >= timeouts.FLOOR_S
    assert timeout_for(iterations=500, size=512) > timeout_for(iterations=50, size=512) > small
    assert timeout_for(processes=2, iterations=500, size=512) > timeout_for(
        iterations=500, size=512
    )


def test_the_wait_grows_with_the_load_and_the_scale(monkeypatch):
    cores = os.cpu_count() or 1
    monkeypatch.delenv("STYLE_TRANSFER_TEST_TIMEOUT_SCALE", raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    idle = timeout_for(iterations=100, size=256)
    monkeypatch.setattr(os, "getloadavg", lambda: (3.0 * cores, 0.0, 0.0))
    assert timeout_for(iterations=100, size=256) == 3 * idle  # three runnable per core
    monkeypatch.setenv("STYLE_TRANSFER_TEST_TIMEOUT_SCALE", "2")
    assert timeout_for(iterations=100, size=256) == 6 * idle
