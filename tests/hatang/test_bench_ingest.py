"""``hatang bench ingest`` runs end to end at a small size and prints the figures it promises.

Against the suite's stack as external services (so no CPU accounting: that needs the local stack's
own processes). Nothing here is timed; the run is small and bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hatang.stack import Stack

KEYS = {
    "raw_copy_readings_s", "bare_sub_msgs_s", "single_msgs_s", "ratio_single_vs_bare", "pack_readings_s",
    "ratio_pack_vs_copy", "latency_p50_s", "latency_p99_s", "lost", "duplicated", "stock_sub_msgs_s",
    "ratio_single_vs_stock", "cpu_budget", "bare_cpu_us_per_msg", "single_cpu_us_per_msg",
    "minimal_single_msgs_s", "ratio_single_vs_minimal", "minimal_pack_readings_s", "ratio_pack_vs_minimal",
    "single_readings_per_cpu_s", "pack_readings_per_cpu_s", "goals", "ok",
}  # fmt: skip


def test_bench_ingest_small_run(stack: Stack) -> None:
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
    args = ["--messages", "3000", "--packs", "60", "--devices", "30"]
    args += ["--rate", "1000", "--latency-seconds", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "bench", "ingest", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS
    assert (result["messages"], result["packs"]) == (3000, 60)
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert result["latency_received"] == result["latency_messages"] == 1000
    assert min(result["bare_sub_msgs_s"], result["single_msgs_s"], result["pack_readings_s"]) > 0
    assert result["cpu_budget"] is None  # external services: their processes are not ours to read
    assert result["single_readings_per_cpu_s"] is None
    assert min(result["minimal_single_msgs_s"], result["minimal_pack_readings_s"]) > 0
    assert isinstance(result["ok"], bool)
