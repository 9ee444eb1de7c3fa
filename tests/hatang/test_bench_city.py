"""``hatang bench city`` runs end to end at a small size and prints every figure it promises.

Against the suite's stack as external services. Nothing here is timed: the goals are the bench's
(``--check``), not the suite's; the run is small and bounded.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from bench.city import CHECKS, GOALS
from bench.city_ingest import MIN_GAP_S, PER_PACK, city_schedule, device, messages_of, room, shape_schedule
from firmware_contracts import compile_model, load_models, normalise
from hatang.stack import Stack

KEYS = {
    "devices", "active_devices", "essential_assets", "history_rows", "full_chunk_mb", "shared_buffers_mb",
    "rollup_minute_empty_s_brin", "rollup_minute_full_s_brin", "rollup_full_vs_empty_brin",
    "rollup_full_vs_empty_no_index", "brin_insert_cost", "copy_rows_s_plain", "copy_rows_s_brin",
    "latest_pages", "latest_values", "latest_first_page_s", "latest_last_page_s", "latest_last_vs_first",
    "legacy_latest_last_vs_first", "readiness_p99_s", "readiness_compute_p99_s",
    "readiness_readings_scans", "readiness_last_seen_rows",
    "reload_on_loop_stall_max_s", "reload_off_loop_stall_max_s", "loop_stall_p999_s", "onboarded_cached",
    "worker_rss_mb", "cached_devices", "ingest_small_msgs_s", "ingest_city_msgs_s",
    "ingest_msgs_city_vs_small", "ingest_readings_city_vs_small", "loop_stall_p999_s_whole_fetch",
    "ingest_tenth_msgs_s", "ingest_msgs_city_vs_tenth", "ingest_readings_city_vs_tenth",
    "ingest_tenth_wal_bytes_per_msg", "ingest_tenth_latest_rows_per_msg", "ingest_tenth_seen_rows_per_msg",
    "ingest_tenth_cpu_us_per_msg_worker", "ingest_tenth_vacuum_s_per_drain",
    "ingest_city_autovacuum_share", "ingest_tenth_autovacuum_share", "ingest_small_autovacuum_share",
    "ingest_city_wal_bytes_per_msg", "ingest_city_wal_fpi_per_msg", "ingest_small_wal_fpi_per_msg",
    "ingest_city_latest_rows_per_msg", "ingest_small_latest_rows_per_msg", "ingest_city_seen_rows_per_msg",
    "ingest_small_seen_rows_per_msg", "ingest_city_vacuum_s_per_drain", "ingest_small_vacuum_s_per_drain",
    "ingest_city_cpu_us_per_msg_worker", "ingest_small_cpu_us_per_msg_postgres",
    "onboarded_cached_whole_fetch", "streams_hub_lag_p99_s", "streams_hub_delivered_share",
    "streams_e2e_lag_p99_s", "streams_e2e_delivered_share", "streams_e2e_commit_lag_p99_s", "load_avg_1m",
    "goals", "ok",
}  # fmt: skip


def test_bench_city_small_run(stack: Stack) -> None:
    assert stack.postgres is not None
    mosquitto = stack.mosquitto
    assert mosquitto is not None
    # The suite's own Mosquitto as the bench's local stack: each role (ingest, api, simulator) with
    # its own account, as `hatang bench ingest`'s test runs it.
    env = {
        **{k: v for k, v in os.environ.items() if k != "HATANG_MQTT_URL"},
        "HATANG_DATABASE_URL": stack.postgres.admin_url(),
        "HATANG_STACK__DATA_DIR": str(mosquitto.data_dir.parent),
        "HATANG_STACK__MQTT_PORT": str(mosquitto.port),
        "HATANG_STACK__MQTT_SERVICE_PORT": str(mosquitto.service_port),
    }
    args = ["--devices", "600", "--history-hours", "0.5", "--onboard", "300", "--requests", "5"]
    args += ["--page-size", "100", "--ingest-seconds", "120"]
    args += ["--stream-clients", "10", "--stream-rate", "300", "--stream-seconds", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "hatang.cli", "bench", "city", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(result) >= KEYS
    assert result["devices"] == 600
    assert result["history_rows"] > 0
    assert result["readiness_readings_scans"] == 0
    assert result["readiness_last_seen_rows"] > 0  # the writer did write beside the requests
    assert result["onboarded_cached"] == 300  # every onboarded device reached the worker's cache
    assert result["onboarded_cached_whole_fetch"] == 300  # and so it did the way the watcher was
    # Each streams run delivered readings of the followed devices to their clients: straight from the
    # fan-out topics, and end to end through a real ingest worker (the bench fails on a dead letter).
    assert result["streams_clients"] == 10
    assert result["streams_hub_delivered_share"] > 0
    assert result["streams_e2e_delivered_share"] > 0
    assert result["streams_e2e_lag_p99_s"] > 0
    assert result["cached_devices"] == 600
    # The walk saw every latest value: one per active device and metric of its model.
    assert result["latest_values"] >= result["active_devices"]
    assert result["latest_pages"] == -(-result["latest_values"] // 100)
    # Every message of both shapes was drained (the bench fails on a rejection or a shortfall).
    # Two minutes of the city: its 30- and 60-second models report, most 5- to 15-minute ones do not.
    assert result["ingest_seconds"] == 120
    assert 0 < result["ingest_city_senders"] < result["ingest_city_devices"]
    assert result["ingest_messages"] > result["ingest_city_senders"]
    assert result["ingest_small_devices"] == 500
    assert result["ingest_tenth_devices"] == -(-result["ingest_city_devices"] // 10)  # every tenth
    for other in ("tenth", "small"):  # each ratio is the city's rate over the other shape's
        for unit in ("msgs", "readings"):
            ratio = result[f"ingest_city_{unit}_s"] / result[f"ingest_{other}_{unit}_s"]
            assert math.isclose(result[f"ingest_{unit}_city_vs_{other}"], ratio, abs_tol=0.001)
    assert result["ingest_drains_from_checkpoint"] is True  # the suite's role may checkpoint
    assert result["ingest_city_wal_bytes_per_msg"] > 0  # the drains' write-ahead log was counted
    # Every live message moves its latest values on (each drain's readings are newer than what is
    # stored) and each device's last_seen is written in its first batch at least.
    for shape in ("city", "tenth", "small"):
        assert result[f"ingest_{shape}_latest_rows_per_msg"] >= 0.5
        assert result[f"ingest_{shape}_seen_rows_per_msg"] > 0
        assert 0 <= result[f"ingest_{shape}_autovacuum_share"] <= 1
    # The worker, PostgreSQL and Mosquitto of the suite's stack run on this host, counted in clock
    # ticks (10 ms): these drains take well under a second, so one shape's Mosquitto may show none.
    for process in ("worker", "postgres"):
        spent = [result[f"ingest_{shape}_cpu_us_per_msg_{process}"] for shape in ("city", "tenth", "small")]
        assert sum(spent) > 0
    assert result["ingest_city_cpu_us_per_msg_mosquitto"] >= 0
    # The whole city: the active devices and those onboarded during the run (both rounds).
    onboarded = result["onboarded"] + result["onboarded_whole_fetch"]
    assert result["ingest_city_devices"] == result["active_devices"] + onboarded
    assert isinstance(result["ok"], bool)


def test_the_ingest_phase_sends_only_what_the_contracts_accept() -> None:
    """Every reading of the city's mix is valid, unique and not ahead of the clock, however many
    messages a device sends: the phase once took values from the metrics' catalogue ranges (outside
    many sensors' own) and dated a device's later logger packs in the future, so most of its readings
    were dead letters, and its rejection check read the labelled counter as 0."""
    models = [compile_model(model) for model in load_models().values()]
    devices = [device(f"city-{i}-{k}", model) for i in range(3) for k, model in enumerate(models)]
    compiled = {d.external_id: model for d, model in zip(devices, models * 3, strict=True)}
    now = time.time()
    # A checkpoint cycle of the city: each device as often as its model reports (a 30-second radar 30
    # times in 15 minutes, a 15-minute meter once), in time order.
    city = city_schedule(devices, 900)
    sent = Counter(d.external_id for _, d in city)
    for d in devices:
        every = d.model.reporting_interval_s
        assert math.floor(900 / every) <= sent[d.external_id] <= math.ceil(900 / every)
    assert [at for at, _ in city] == sorted(at for at, _ in city)  # in time order
    assert len({d.external_id for _, d in city[:30]}) > 5  # interleaved, not device by device
    payloads, promised = messages_of(city, 900, prefix="bench/v1", now=now)
    # The small shape: the city's messages from fewer devices, each of its sender's model, over the
    # same window (a later drain: its clock has moved on); many a device.
    few = devices[::3]  # a device of each model
    small = shape_schedule(few, city * 20)
    assert [d.model.key for _, d in small] == [d.model.key for _, d in city * 20]
    assert all(a < b for (a, _), (b, _) in itertools.pairwise(small))  # one at a time
    assert {d.external_id for _, d in small} == {d.external_id for d in few}
    later, promised_later = messages_of(small, 900, prefix="bench/v1", now=now + 61.5)
    payloads, promised = payloads + later, promised + promised_later
    by_id = {d.external_id: d for d in devices}
    readings, packs = 0, 0
    seen: set[tuple[str, str, float]] = set()
    for topic, payload in payloads:
        sender = by_id[topic.split("/")[-2]]
        outcome = normalise(payload, now + 61.5, compiled[sender.external_id])
        assert not outcome.rejections, (sender.model.key, outcome.rejections[:1])
        assert all(r.time <= now + 61.5 for r in outcome.readings)
        keys = {(sender.external_id, r.metric, r.time) for r in outcome.readings}
        assert len(keys) == len(outcome.readings)  # no reading sent twice
        assert not keys & seen
        seen |= keys
        readings += len(outcome.readings)
        packs += len(outcome.readings) == PER_PACK
    assert readings == promised
    assert packs >= len(payloads) // 20  # the logger packs were in the mix, a tenth where models allow
    # A later drain's live readings begin after the newest the city holds (``after``): squeezed into
    # what is left of the window, in the schedule's order, none older, none ahead of the clock.
    squeezed, _ = messages_of(city, 900, prefix="bench/v1", now=now, after=now - 200)
    live = []
    for topic, payload in squeezed:
        sender = by_id[topic.split("/")[-2]]
        outcome = normalise(payload, now, compiled[sender.external_id])
        assert not outcome.rejections
        if len(outcome.readings) != PER_PACK:
            live.append(outcome.readings[0].time)
    assert live == sorted(live)
    assert now - 200 < live[0]
    assert live[-1] <= now - 2
    assert live[-1] - live[0] > 100  # spread over the room left, not bunched


def test_a_drain_squeezed_after_live_readings_keeps_each_device_s_readings_apart() -> None:
    """A drain right after live readings (the streams phase's) waits for ``room``: squeezed into the
    few seconds left, a 500-device drain once sent a device's messages under a millisecond apart, and
    a model with epoch_ms timestamps repeated readings (a duplicate-path batch each)."""
    models = {model.key: compile_model(model) for model in load_models().values()}
    devices = [device(f"city-{i}-{k}", model) for i in range(3) for k, model in enumerate(models.values())]
    compiled = {d.external_id: models[d.model.key] for d in devices}
    assert any(d.model.time is not None and d.model.time.format == "epoch_ms" for d in devices)
    few = devices[::3]  # one device a model: each sends every message of its model
    small = shape_schedule(few, city_schedule(devices, 900) * 20)
    gaps = [b - a for d in few for a, b in itertools.pairwise(at for at, s in small if s is d)]
    need = room(small, 900)
    assert math.isclose(need, 900 * MIN_GAP_S / min(gaps))
    now = time.time()
    with pytest.raises(RuntimeError, match="no room"):  # less room than that is refused
        messages_of(small, 900, prefix="bench/v1", now=now, after=now - 2 - 0.9 * need - 1)
    payloads, _ = messages_of(small, 900, prefix="bench/v1", now=now, after=now - 2 - need - 1.01)
    seen: set[tuple[str, str, float]] = set()
    for topic, payload in payloads:
        sender = topic.split("/")[-2]
        outcome = normalise(payload, now, compiled[sender])
        assert not outcome.rejections
        keys = {(sender, r.metric, r.time) for r in outcome.readings}
        assert not keys & seen  # no reading repeated at the precision its payload carries
        seen |= keys


def test_the_ingest_goal_is_city_against_a_tenth() -> None:
    """``--check`` judges ingest by the city against a city a tenth its size, both writing the same
    per-device rows a message; the 500-device shape, which folds them, is reported beside it and
    decides nothing (docs/capacity.md, "Ingest at city shape")."""
    goal = GOALS["ingest_city_vs_tenth_min"]
    assert "ingest_city_vs_small_min" not in GOALS
    met = {
        "ingest_msgs_city_vs_tenth": goal, "ingest_readings_city_vs_tenth": goal,
        "ingest_msgs_city_vs_small": goal / 2, "ingest_readings_city_vs_small": goal / 2,
    }  # fmt: skip
    assert CHECKS["ingest"](met)
    assert not CHECKS["ingest"]({**met, "ingest_msgs_city_vs_tenth": goal - 0.001})
    assert not CHECKS["ingest"]({**met, "ingest_readings_city_vs_tenth": goal - 0.001})
