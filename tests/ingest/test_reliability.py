"""Nothing lost, nothing doubled: the worker, PostgreSQL and Mosquitto fail while 100,000 readings flow.

Loads are 100,000 pressure readings as 2,000 SenML packs of 50 records (the packs keep each test to
seconds on two cores; per-message handling is exercised by the single-message tests).
"""

from __future__ import annotations

import signal
import time

import pytest

from hatang.stack import Stack
from tests.plugins.ingest import (
    IngestFleet,
    Load,
    Publisher,
    WorkerProcess,
    Workers,
    check_exactly_once,
    count_readings,
    pack_load,
    settle,
    wait_rows,
    wait_template_quiet,
)

pytestmark = pytest.mark.slow


def _wait_some(db_url: str, at_least: int, timeout: float = 60) -> None:
    assert wait_rows(db_url, at_least, timeout=timeout) >= at_least


def _wait_metric(worker: WorkerProcess, name: str, at_least: float, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while worker.metric(name) < at_least:
        assert time.monotonic() < deadline, f"{name} never reached {at_least}"
        time.sleep(0.05)


def _landed_exactly_once(
    fleet: IngestFleet, workers: Workers, load: Load, running: list[WorkerProcess]
) -> None:
    """Every reading of ``load`` is stored once, after ``running`` have taken all the broker held
    (redeliveries included: settle's markers come after them)."""
    assert wait_rows(fleet.db_url, load.expected, timeout=90) == load.expected
    settle(running, workers.telemetry_url, fleet.prefix)
    check_exactly_once(fleet.db_url, load)


def test_worker_killed_and_restarted(ingest_fleet: IngestFleet, workers: Workers) -> None:
    load = pack_load(ingest_fleet)
    worker = workers.start("w1", batch_size="2000")
    publisher = Publisher(workers.telemetry_url, load.messages)
    publisher.start()
    for round_ in (1, 2):
        _wait_some(ingest_fleet.db_url, round_ * 15_000)
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)
        worker = workers.start("w1", batch_size="2000")
    publisher.join_ok()
    _landed_exactly_once(ingest_fleet, workers, load, [worker])
    assert worker.proc.poll() is None


def test_postgres_restarted(ingest_fleet: IngestFleet, workers: Workers, stack: Stack) -> None:
    assert stack.postgres is not None
    load = pack_load(ingest_fleet)
    half = len(load.messages) // 2
    worker = workers.start("w1", batch_size="2000", db_retry_max_s="1")
    first = Publisher(workers.telemetry_url, load.messages[:half])
    first.start()
    _wait_some(ingest_fleet.db_url, 20_000)
    stack.postgres.stop(mode="immediate")
    try:
        # The second half is published while PostgreSQL is down (a fast worker may have stored the
        # whole first half already): it has something to store and cannot. It noticed: it keeps
        # receiving, cannot commit, stops taking.
        second = Publisher(workers.telemetry_url, load.messages[half:])
        second.start()
        _wait_metric(worker, "hatang_ingest_store_failures_total", 1)
    finally:
        stack.postgres.start()  # never leave the suite's database down
    first.join_ok()
    second.join_ok()
    _landed_exactly_once(ingest_fleet, workers, load, [worker])
    assert worker.proc.poll() is None
    assert worker.metric("hatang_ingest_store_failures_total") >= 1
    wait_template_quiet(stack)


def test_mosquitto_restarted(ingest_fleet: IngestFleet, workers: Workers, stack: Stack) -> None:
    assert stack.mosquitto is not None
    load = pack_load(ingest_fleet)
    half = len(load.messages) // 2
    worker = workers.start("w1", batch_size="2000")
    first = Publisher(workers.telemetry_url, load.messages[:half])
    first.start()
    first.join_ok()
    # Restart while the worker still holds and commits part of the first half.
    stack.mosquitto.stop()
    stack.mosquitto.start()
    worker.wait_log("subscribed", count=2, timeout=60)
    second = Publisher(workers.telemetry_url, load.messages[half:])
    second.start()
    second.join_ok()
    _landed_exactly_once(ingest_fleet, workers, load, [worker])
    assert worker.proc.poll() is None
    assert worker.metric("hatang_ingest_broker_reconnects_total") >= 1


def test_two_workers_split_the_load(ingest_fleet: IngestFleet, workers: Workers) -> None:
    load = pack_load(ingest_fleet)
    one = workers.start("w1", batch_size="2000")
    two = workers.start("w2", batch_size="2000")
    publisher = Publisher(workers.telemetry_url, load.messages)
    publisher.start()
    publisher.join_ok()
    _landed_exactly_once(ingest_fleet, workers, load, [one, two])
    stored = [w.metric("hatang_ingest_readings_stored_total") for w in (one, two)]
    assert sum(stored) == load.expected
    # Both took part; how evenly is the broker's business (hatang bench measures throughput).
    assert min(stored) > 0, stored
    assert count_readings(ingest_fleet.db_url)[0] == load.expected
