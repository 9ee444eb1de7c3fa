"""The benchmarks' CPU meter reads real processes' CPU time from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.cpu import CpuMeter, cpu_seconds, with_children
from bench.ingest import cpu_budget


def _spin(seconds: float) -> None:
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass


def test_meter_counts_this_process_and_not_an_idle_one() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)  # past the interpreter's start-up
        meter = CpuMeter({"busy": lambda: [os.getpid()], "idle": lambda: [sleeper.pid]})
        meter.start()
        _spin(0.3)
        used = meter.stop()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert used["busy"] >= 0.2
    assert used["idle"] < 0.05


def test_children_and_gone_processes() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert set(with_children(os.getpid())) >= {os.getpid(), child.pid}
    finally:
        child.kill()
        child.wait()
    assert cpu_seconds(child.pid) == 0.0  # reaped: nothing to read
    assert with_children(None) == []


def test_cpu_budget_of_the_ingest_bench() -> None:
    # The bare subscriber: 5 µs a message at 200,000 msg/s (CPU-bound); the broker 3.5 µs, the
    # database 5 µs; the worker 11 µs. Goal 0.7 is 140,000 msg/s: on 2 cores W + 8.5 <= 14.29 µs.
    budget = cpu_budget(
        {"subscriber": 5.0, "mosquitto": 3.5, "postgresql": 0.0},
        {"worker": 11.0, "mosquitto": 6.0, "postgresql": 5.0},
        200_000,
        cores=2,
    )
    assert budget is not None
    assert budget["own_us"] == 6.0
    assert budget["own_budget_us"] == round(2 / 0.14 - 3.5 - 5.0 - 5.0, 2)
    assert budget["ratio_ceiling"] == round(2 / (5.0 + 3.5 + 5.0) * 1e6 / 200_000, 3)
    assert cpu_budget({"subscriber": 5.0}, {"worker": 11.0}, 200_000) is None  # external services
