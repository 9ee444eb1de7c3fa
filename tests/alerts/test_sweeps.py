"""Silence (from ``device_seen.last_seen``) and rejection rates (from dead letters) in a real process.

``last_seen`` is set by hand to known ages (hours, far from any timing), then a real ``hatang
alerts`` sweeps; a reading published through real ingest ends a device's silence. Each test waits
for a sweep after the expected alerts appeared before comparing the whole alert set.
"""

from __future__ import annotations

import time

import orjson
import psycopg
import pytest

from tests.plugins.alerts import AlertProcess, Evaluators, add_rule, alert_rows, wait_alerts
from tests.plugins.ingest import IngestFleet, Workers, publish, single

pytestmark = pytest.mark.slow


def _age(db_url: str, ages_s: dict[str, float]) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO device_seen (device_id, last_seen) SELECT id, now() FROM devices ORDER BY id"
            " ON CONFLICT (device_id) DO UPDATE SET last_seen = EXCLUDED.last_seen"
        )
        for device, age in ages_s.items():
            conn.execute(
                "UPDATE device_seen SET last_seen = now() - make_interval(secs => %s)"
                " WHERE device_id = (SELECT id FROM devices WHERE external_id = %s)",
                (age, device),
            )


def _one_more_sweep(process: AlertProcess, kind: str, timeout: float = 30) -> None:
    name = f'hatang_alerts_evaluations_total{{kind="{kind}"}}'
    start = process.metric(name)
    deadline = time.monotonic() + timeout
    while process.metric(name) <= start:
        assert time.monotonic() < deadline, f"no {kind} sweep"
        time.sleep(0.1)


def _assets(db_url: str) -> dict[str, list[str]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT a.external_id, array_agg(d.external_id ORDER BY d.external_id) FROM devices d"
            " JOIN assets a ON a.id = d.asset_id WHERE d.state = 'active' GROUP BY a.external_id ORDER BY 1"
        ).fetchall()
    return {r[0]: list(r[1]) for r in rows}


def test_silent_devices_and_assets_open_and_a_reading_resolves(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    db = ingest_fleet.db_url
    quiet, loud = ingest_fleet.active[0], ingest_fleet.active[1]
    (asset_0, on_0), (_, on_1) = _assets(db).items()
    device_rule = add_rule(db, "bnwater", kind="silence", scope_kind="organisation", scope_value="bnwater",
                           subject="device")  # fmt: skip  # default: 3 x the model's 300 s
    asset_rule = add_rule(db, "bnwater", kind="silence", scope_kind="organisation", scope_value="bnwater",
                          subject="asset", duration_s=3600)  # fmt: skip
    # Every device of asset 0 is quiet for 2 h; asset 1 has one device heard 1,000 s ago (silent as a
    # device, not as an asset). ``loud`` was heard 800 s ago: within 3 x 300 s.
    ages = dict.fromkeys(on_0, 7200.0) | dict.fromkeys(on_1, 7200.0) | {on_1[-1]: 1000.0, loud: 800.0}
    assert quiet in on_0
    _age(db, ages)
    workers.start()
    evaluator = evaluators.start(silence_interval_s="0.5")
    silent_devices = sorted(d for d, age in ages.items() if age > 900)
    wait_alerts(db, lambda rows: len(rows) == len(silent_devices) + 1)
    _one_more_sweep(evaluator, "silence")
    rows = alert_rows(db)
    assert sorted((r["rule"], r["kind"], r["subject"]) for r in rows) == sorted(
        [(device_rule, "device", d) for d in silent_devices] + [(asset_rule, "asset", asset_0)]
    )
    # ``quiet`` speaks: its silence, and its asset's, end.
    publish(workers.telemetry_url, [(ingest_fleet.topic(quiet), single(quiet, time.time() - 1, 40.0))])
    rows = wait_alerts(db, lambda rows: sum(r["state"] == "resolved" for r in rows) == 2)
    assert sorted((r["subject"], r["events"]) for r in rows if r["state"] == "resolved") == [
        (asset_0, ["opened", "resolved"]), (quiet, ["opened", "resolved"])
    ]  # fmt: skip


def test_rejection_rates_per_device_and_organisation(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    db = ingest_fleet.db_url
    noisy, other = ingest_fleet.active[:2]
    rule = {"kind": "rejection_rate", "scope_kind": "organisation", "scope_value": "bnwater"}
    per_device = add_rule(db, "bnwater", subject="device", rate_per_hour=10, **rule)
    per_org = add_rule(db, "bnwater", subject="organisation", rate_per_hour=15, **rule)
    workers.start()
    now = time.time()
    # 999 psi is outside the pressure logger's range: a dead letter each. 11 for one device (over
    # 10/h), 5 for another (under), 16 in the organisation (over 15/h).
    bad = [(ingest_fleet.topic(noisy), orjson.dumps({"t": now - i, "psi": 999})) for i in range(11)]
    bad += [(ingest_fleet.topic(other), orjson.dumps({"t": now - i, "psi": 999})) for i in range(5)]
    publish(workers.telemetry_url, bad)
    with psycopg.connect(db) as conn:
        deadline = time.monotonic() + 60
        while conn.execute("SELECT count(*) FROM dead_letters").fetchone() != (16,):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    evaluator = evaluators.start(rate_interval_s="0.5")
    wait_alerts(db, lambda rows: len(rows) == 2)
    _one_more_sweep(evaluator, "rejection_rate")
    assert sorted((r["rule"], r["kind"], r["subject"]) for r in alert_rows(db)) == sorted(
        [(per_device, "device", noisy), (per_org, "organisation", str(_org_id(db)))]
    )


def _org_id(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT id FROM organisations WHERE slug = 'bnwater'").fetchone()
    assert row is not None
    return int(row[0])


def test_a_silence_opens_within_its_duration_plus_a_minute_whatever_the_last_seen_granularity(
    ingest_fleet: IngestFleet, workers: Workers, evaluators: Evaluators
) -> None:
    """Ingest writes ``last_seen`` once an hour here, so only ``latest_readings`` can tell the sweep
    that the device is still reporting, and when it stopped: the issue's goal (duration + 60 s) and
    no silence while it reports, however coarse the granularity."""
    db = ingest_fleet.db_url
    device = ingest_fleet.active[0]
    duration_s, granularity = 3.0, "3600"
    workers.start(last_seen_granularity_s=granularity)

    def report() -> float:
        t = time.time()
        publish(workers.telemetry_url, [(ingest_fleet.topic(device), single(device, t, 40.0))])
        return t

    def committed(t: float) -> None:
        deadline = time.monotonic() + 60
        with psycopg.connect(db, autocommit=True) as conn:
            while conn.execute(
                "SELECT count(*) FROM latest_readings l JOIN devices d ON d.id = l.device_id"
                " WHERE d.external_id = %s AND l.time > to_timestamp(%s - 0.001)",  # stored to the µs
                (device, t),
            ).fetchone() != (1,):
                assert time.monotonic() < deadline, "the reading was never committed"
                time.sleep(0.05)

    evaluator = evaluators.start(silence_interval_s="0.5", last_seen_granularity_s=granularity)
    committed(report())  # last_seen is written now, and not again for an hour
    rule = add_rule(db, "bnwater", kind="silence", scope_kind="device", scope_value=device,
                    subject="device", duration_s=duration_s)  # fmt: skip
    # Report for four durations, through sweeps that see last_seen older than the duration.
    name = 'hatang_alerts_evaluations_total{kind="silence"}'
    sweeps = evaluator.metric(name)
    first = last = report()
    while last - first < 4 * duration_s or evaluator.metric(name) < sweeps + 4:
        time.sleep(0.5)
        committed(last := report())
    _one_more_sweep(evaluator, "silence")  # a sweep after the newest reading committed
    assert alert_rows(db) == [], "a silence opened on a device that is still reporting"
    # It falls silent: the alert opens, heard last at the newest reading's time.
    (row,) = wait_alerts(db, lambda rows: len(rows) == 1, timeout=duration_s + 60 + 60)
    assert (row["rule"], row["kind"], row["subject"], row["state"]) == (rule, "device", device, "open")
    with psycopg.connect(db) as conn:
        opened = conn.execute(
            "SELECT extract(epoch FROM since)::float8, extract(epoch FROM opened_at)::float8 FROM alerts"
        ).fetchone()
    assert opened is not None
    since, opened_at = opened
    assert abs(since - last) < 1e-3, (since, last)
    assert opened_at - last <= duration_s + 60, (opened_at - last, duration_s)
