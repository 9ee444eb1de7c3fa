"""The benchmarks' CPU meter reads real processes' CPU time from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from hatang.bench.cpu import CpuMeter, cpu_seconds, with_children


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
