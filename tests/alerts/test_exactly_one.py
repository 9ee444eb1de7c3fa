"""Exactly one open alert per (rule, subject), proven with real processes against the suite's stack.

Each test runs real ``hatang ingest`` and ``hatang alerts`` processes over a real Mosquitto and
TimescaleDB: readings are published as devices would, committed by ingest, and evaluated from the
fan-out and the database. Before asserting that nothing more happened, each test waits for the
evaluator to report (its metrics) that it has seen every reading that could have caused more.
"""

from __future__ import annotations

import signal
import time

import psycopg
import pytest

from tests.plugins.alerts import AlertProcess, Evaluators, add_rule, alert_rows, wait_alerts
from tests.plugins.ingest import IngestFleet, Workers, publish, single, wait_rows

pytestmark = pytest.mark.slow

LOW_PSI, HIGH_PSI = 20.0, 40.0  # 1.38 bar breaches "below 2.0 bar"; 2.76 bar clears past 2.5


def _rule(fleet: IngestFleet) -> int:
    return add_rule(
        fleet.db_url, "bnwater", kind="threshold", scope_kind="organisation", scope_value="bnwater",
        metric="water_pressure", operator="below", low=2.0, clear_low=2.5, duration_s=0,
    )  # fmt: skip


def _seen(
    process: AlertProcess, readings: int, *, source: str | None = "fanout", timeout: float = 60
) -> None:
    """Wait until ``process`` has evaluated at least ``readings`` readings from ``source`` (None: any)."""
    name = "hatang_alerts_readings_total" + (f'{{source="{source}"}}' if source else "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.metric(name) >= readings:
            return
        time.sleep(0.1)
    raise AssertionError(f"{process.name} saw {process.metric(name)} < {readings} readings")


def test_redelivered_readings_open_one_alert_and_a_new_problem_another(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    rule = _rule(ingest_fleet)
    workers.start()
    evaluator = evaluators.start()
    device = ingest_fleet.active[0]
    t0 = time.time() - 60
    breach = [(ingest_fleet.topic(device), single(device, t0 + i, LOW_PSI)) for i in range(3)]
    publish(workers.telemetry_url, breach)
    rows = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) >= 1)
    # The same messages again (a redelivery), and more readings of the same breach.
    publish(workers.telemetry_url, breach)
    more = [(ingest_fleet.topic(device), single(device, t0 + 3 + i, LOW_PSI)) for i in range(3)]
    publish(workers.telemetry_url, more)
    assert wait_rows(ingest_fleet.db_url, 6) == 6
    _seen(evaluator, 9)  # every reading, the redelivered ones included, has been evaluated
    rows = alert_rows(ingest_fleet.db_url)
    assert [(r["rule"], r["subject"], r["state"], r["events"]) for r in rows] == [
        (rule, device, "open", ["opened"])
    ]
    # The pressure recovers (past the clear level): resolved; then falls again: a new problem.
    publish(workers.telemetry_url, [(ingest_fleet.topic(device), single(device, t0 + 10, HIGH_PSI))])
    wait_alerts(ingest_fleet.db_url, lambda rows: rows and rows[0]["state"] == "resolved")
    publish(workers.telemetry_url, [(ingest_fleet.topic(device), single(device, t0 + 11, LOW_PSI))])
    rows = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 2)
    assert [(r["state"], r["events"]) for r in rows] == [
        ("resolved", ["opened", "resolved"]), ("open", ["opened"])
    ]  # fmt: skip


def test_sigkilled_evaluator_restarts_without_a_second_alert(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    _rule(ingest_fleet)
    workers.start()
    evaluator = evaluators.start()
    first, second = ingest_fleet.active[:2]
    # Well inside the restarted evaluator's replay (its rules' longest hold, 0 s, plus 120 s back from
    # its start), so the replay feeds it every reading, the one that opened the first alert included.
    t0 = time.time() - 60
    publish(workers.telemetry_url, [(ingest_fleet.topic(first), single(first, t0, LOW_PSI))])
    wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 1)
    evaluator.proc.send_signal(signal.SIGKILL)
    evaluator.proc.wait(timeout=10)
    # While no evaluator runs: the first breach goes on, the second device breaks the rule too.
    publish(workers.telemetry_url, [
        (ingest_fleet.topic(first), single(first, t0 + 1, LOW_PSI)),
        (ingest_fleet.topic(second), single(second, t0 + 1, LOW_PSI)),
    ])  # fmt: skip
    assert wait_rows(ingest_fleet.db_url, 3) == 3
    restarted = evaluators.start("e1-again")  # replays the committed readings
    rows = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 2)
    _seen(restarted, 3, source="replay")  # all three committed readings
    _seen(restarted, 2, source="catchup")  # then each device's newest from latest_readings, once more
    rows = alert_rows(ingest_fleet.db_url)
    assert sorted((r["subject"], r["state"], tuple(r["events"])) for r in rows) == sorted(
        [(first, "open", ("opened",)), (second, "open", ("opened",))]
    )


def test_two_evaluators_at_once_open_and_resolve_each_alert_once(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    _rule(ingest_fleet)
    workers.start()
    one, two = evaluators.start("e1"), evaluators.start("e2")
    devices = ingest_fleet.active[:10]
    t0 = time.time() - 60
    publish(workers.telemetry_url, [(ingest_fleet.topic(d), single(d, t0, LOW_PSI)) for d in devices])
    wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 10)
    _seen(one, 10)
    _seen(two, 10)
    publish(workers.telemetry_url, [(ingest_fleet.topic(d), single(d, t0 + 1, HIGH_PSI)) for d in devices])
    wait_alerts(ingest_fleet.db_url, lambda rows: all(r["state"] == "resolved" for r in rows))
    _seen(one, 20)
    _seen(two, 20)
    rows = alert_rows(ingest_fleet.db_url)
    assert sorted(r["subject"] for r in rows) == sorted(devices)
    assert all(r["events"] == ["opened", "resolved"] for r in rows), rows
    opened = one.metric("hatang_alerts_opened_total") + two.metric("hatang_alerts_opened_total")
    assert opened == 10


def test_a_rule_added_while_running_applies_at_once(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    workers.start()
    evaluator = evaluators.start()
    rule = _rule(ingest_fleet)  # NOTIFY hatang_alert_rules: the evaluator reloads
    evaluator.wait_log("rules loaded", count=2)
    device = ingest_fleet.active[3]
    publish(workers.telemetry_url, [(ingest_fleet.topic(device), single(device, time.time() - 5, LOW_PSI))])
    rows = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 1)
    assert [(r["rule"], r["subject"]) for r in rows] == [(rule, device)]


def test_an_alert_resolved_by_hand_stays_resolved_while_the_breach_lasts(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    _rule(ingest_fleet)
    workers.start()
    evaluator = evaluators.start()
    device = ingest_fleet.active[4]
    topic = ingest_fleet.topic(device)
    t0 = time.time() - 60
    publish(workers.telemetry_url, [(topic, single(device, t0, LOW_PSI))])
    (alert,) = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 1)
    with psycopg.connect(ingest_fleet.db_url, autocommit=True) as conn:  # an operator's resolve
        conn.execute(
            "UPDATE alerts SET state = 'resolved', resolved_by = 'key 1', resolved_at = now() WHERE id = %s",
            (alert["id"],),
        )
    # Another rule arrives: the evaluator reloads what the database says is open (not this one).
    add_rule(ingest_fleet.db_url, "bnwater", kind="silence", scope_kind="device", scope_value=device)
    evaluator.wait_log("rules loaded", count=2)
    publish(workers.telemetry_url, [(topic, single(device, t0 + 1 + i, LOW_PSI)) for i in range(3)])
    _seen(evaluator, 4)  # the breach goes on: no new alert
    assert [r["state"] for r in alert_rows(ingest_fleet.db_url)] == ["resolved"]
    # The pressure recovers, then falls again: a new problem, a new alert.
    publish(workers.telemetry_url, [(topic, single(device, t0 + 10, HIGH_PSI))])
    publish(workers.telemetry_url, [(topic, single(device, t0 + 11, LOW_PSI))])
    rows = wait_alerts(ingest_fleet.db_url, lambda rows: len(rows) == 2)
    assert [r["state"] for r in rows] == ["resolved", "open"]
