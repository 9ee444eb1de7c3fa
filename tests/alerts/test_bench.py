"""``hatang bench alerts`` runs end to end at a small size and prints every promised figure.

Against the suite's stack as external services. Nothing here is timed: the goals are the bench's
``--check``, not this test's; it checks the run is complete and every breach opened its alert.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hatang.stack import Stack

pytestmark = pytest.mark.slow

KEYS = {
    "rules", "ingest_without_alerts_readings_s", "ingest_with_alerts_readings_s", "ratio_with_vs_without",
    "open_latency_p50_s", "open_latency_p99_s", "breaches", "alerts_opened", "goal_ratio", "goal_p99_s", "ok",
    "evaluator_cpu_us_per_reading_b", "publish_to_open_p99_s", "silence_open_delay_max_s",
    "goal_silence_open_delay_s",
}  # fmt: skip


def test_bench_alerts_small_run(stack: Stack) -> None:
    assert stack.postgres is not None
    assert stack.mosquitto is not None
    # The suite's broker as the bench's local one: it takes each role's account from its directory.
    mosquitto = stack.mosquitto
    env = {
        **{k: v for k, v in os.environ.items() if k != "HATANG_MQTT_URL"},
        "HATANG_DATABASE_URL": stack.postgres.admin_url(),
        "HATANG_STACK__DATA_DIR": str(mosquitto.data_dir.parent),
        "HATANG_STACK__MQTT_PORT": str(mosquitto.port),
        "HATANG_STACK__MQTT_SERVICE_PORT": str(mosquitto.service_port),
    }
    args = ["--rules", "600", "--devices", "200", "--messages", "2000", "--rate", "300", "--seconds", "2",
            "--silence-s", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "bench", "alerts", *args, "--breach-every", "2"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) >= KEYS
    assert result["rules"] == 600
    # 600 readings, every 2nd a breaker's: breach, clear, breach for each of 100 breakers
    assert result["breaches"] == result["alerts_opened"] == 200
    assert result["other_alerts"] == 0
    assert result["evaluator_fanout_readings_seen_b"] >= 2000
    assert any(line.startswith("(b) ingest with alerts") for line in lines)
    # Every breaking reading's commit time reached its alert (the fan-out carries it).
    assert result["open_latency_p99_s"] is not None
    # (d): every silence probe's alert opened (how fast is the benchmark's figure, not a test's).
    assert result["silence_probes"] == 20
    assert result["silence_open_delay_max_s"] is not None
    assert result["goal_silence_open_delay_s"] == 62
