"""``hatang bench broker`` runs end to end at a small size (a scratch broker of its own) and prints
every promised figure as its last line."""

from __future__ import annotations

import json
import subprocess
import sys

KEYS = {
    "render_s", "reload_s", "logins_s", "device_msgs_s", "service_msgs_s", "ratio_device_vs_service",
    "goal_reload_s", "goal_ratio", "ok",
}  # fmt: skip


def test_bench_broker_small_run() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "bench", "broker", "--devices", "500", "--messages", "500",
         "--rounds", "1"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures.keys() >= KEYS
    assert figures["devices"] == 500
    assert figures["device_msgs_s"] > 0
    assert figures["service_msgs_s"] > 0
