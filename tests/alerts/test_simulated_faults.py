"""A seeded fault run of the simulators produces exactly the expected alerts and no others.

The fleet is made through the API (18 devices, two of each model), published with the devices' own
credentials by the simulators' load runner (the code behind ``hatang simulate run``), landed by a real
ingest worker and evaluated by a real ``hatang alerts``. Faults: out-of-range readings (dead letters,
which a rejection-rate rule turns into alerts; they never land, so a threshold at the contract's
limit stays quiet) and silent devices (drawn by the seed, known in advance). After the run every
device stops, which is a silence of its own: the comparison takes the alerts whose silence began
well before the end of the run.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from firmware_contracts import Limits
from hatang.stack import Stack
from simulators.fleet import Fleet
from simulators.load import LoadResult, LoadSpec, run_load, silent_devices
from simulators.messages import FaultPlan
from simulators.publisher import BrokerAddress, parse_url
from tests.plugins.alerts import Evaluators
from tests.plugins.ingest import DEVICE_MOUNT, Workers
from tests.simulators.test_end_to_end import PREFIX, fleet  # noqa: F401 - the fleet fixture

pytestmark = pytest.mark.slow

SILENCE_S = 5.0
DURATION_S = 40.0  # silent devices stop between 10 s and 30 s: silent for 5 s well before the end


def _rules(db_url: str) -> dict[str, int]:
    """Silence per device, rejections per device (any), and 'above the contract's maximum' per metric."""
    with psycopg.connect(db_url) as conn:
        org = conn.execute("SELECT DISTINCT organisation_id FROM devices").fetchall()
        assert len(org) == 1
        slug = conn.execute("SELECT slug FROM organisations WHERE id = %s", org[0]).fetchone()
        assert slug is not None
        common = (
            "INSERT INTO alert_rules (organisation_id, name_vi, name_en, severity, scope_kind, scope_value"
        )
        silence = conn.execute(
            common + ", kind, subject, duration_s) VALUES (%s, 'Im lặng', 'Silent', 'major', 'organisation',"
            " %s, 'silence', 'device', %s) RETURNING id",
            (org[0][0], slug[0], SILENCE_S),
        ).fetchone()
        rejected = conn.execute(
            common + ", kind, subject, rate_per_hour) VALUES (%s, 'Bị từ chối', 'Rejected', 'minor',"
            " 'organisation', %s, 'rejection_rate', 'device', 0) RETURNING id",
            (org[0][0], slug[0]),
        ).fetchone()
        conn.execute(
            common + ", kind, metric, operator, high, duration_s)"
            " SELECT %s, 'Vượt giới hạn', 'Beyond the contract', 'critical', 'organisation', %s, 'threshold',"
            " name, 'above', max_value, 0 FROM metrics WHERE max_value IS NOT NULL",
            (org[0][0], slug[0]),
        )
    assert silence is not None
    assert rejected is not None
    return {"silence": silence[0], "rejection_rate": rejected[0]}


def _alerts(db_url: str) -> list[tuple[str, str, float]]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT r.kind, d.external_id, extract(epoch FROM a.since)::float8 FROM alerts a"
            " JOIN alert_rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.subject_id ORDER BY a.id"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _wait(predicate: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.timeout(300)
def test_a_seeded_fault_mix_opens_exactly_the_expected_alerts(
    fleet: Fleet,  # noqa: F811
    stack: Stack,
    db_url: str,
    tmp_path: Path,
) -> None:
    _rules(db_url)
    workers = Workers(stack=stack, db_url=db_url, prefix=PREFIX, tmp=tmp_path)
    evaluators = Evaluators(stack=stack, db_url=db_url, prefix=PREFIX, tmp=tmp_path)
    try:
        # Silences of a few seconds with ingest's default last_seen granularity (60 s): the sweep
        # takes the newest reading from latest_readings between two writes (docs/alerts.md).
        workers.start()
        # Devices log in on the device listener with their own credentials (the fleet fixture wrote them).
        device, service = parse_url(stack.device_url), parse_url(stack.mqtt_url("simulator"))
        spec = LoadSpec(
            devices=fleet.devices, broker=BrokerAddress(device.host, device.port), topic_prefix=PREFIX,
            rate=180, duration_s=DURATION_S, processes=2, qos=1, pack=1,
            faults=FaultPlan(out_of_range=0.01, silent=0.25), seed=17, run_id="alerts", limits=Limits(),
            service=service, device_mount=DEVICE_MOUNT,
        )  # fmt: skip
        silent = silent_devices(spec)
        outcome: list[LoadResult] = []
        runner = threading.Thread(target=lambda: outcome.append(run_load(spec)))
        runner.start()
        # Every device has been heard before the evaluator starts (a device never heard since its
        # creation is silent too, which is not what this test is about).
        with psycopg.connect(db_url, autocommit=True) as conn:
            _wait(
                lambda: (
                    conn.execute(
                        "SELECT count(*) FROM devices d"
                        " WHERE NOT EXISTS (SELECT FROM device_seen s WHERE s.device_id = d.id)"
                    ).fetchone() == (0,)
                )
            )
        evaluator = evaluators.start(silence_interval_s="0.5", rate_interval_s="0.5")
        runner.join()
        (result,) = outcome
        assert result.unacked == 0
        with psycopg.connect(db_url) as conn:
            _wait(
                lambda: (
                    conn.execute("SELECT count(*) FROM dead_letters").fetchone()
                    == (result.faults_acked["out_of_range"],)
                )
            )
            rejected = {
                r[0] for r in conn.execute(
                    "SELECT DISTINCT d.external_id FROM dead_letters l JOIN devices d ON d.id = l.device_id"
                    " WHERE l.reason = 'out_of_range'"
                ).fetchall()
            }  # fmt: skip
        assert rejected, "the seed injects out-of-range readings"
        cutoff = result.ended - 2.0
        expected = {("silence", d) for d in silent} | {("rejection_rate", d) for d in rejected}

        def early() -> set[tuple[str, str]]:
            return {(kind, d) for kind, d, since in _alerts(db_url) if kind != "silence" or since < cutoff}

        _wait(lambda: expected <= early())
        evaluator.proc.terminate()
        evaluator.proc.wait(timeout=20)
        assert early() == expected
        assert not [a for a in _alerts(db_url) if a[0] == "threshold"]
        assert len(_alerts(db_url)) == len({(k, d) for k, d, _ in _alerts(db_url)})  # one per (rule, device)
    finally:
        evaluators.stop_all()
        workers.stop_all()
