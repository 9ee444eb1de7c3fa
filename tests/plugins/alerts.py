"""Pytest plugin: ``hatang alerts`` processes against the test's database, and rule/alert helpers.

``evaluators`` starts real ``hatang alerts`` subprocesses (JSON-lines logs, own metrics port) on the
test's database and topic prefix and stops them at teardown; ``add_rule`` inserts a rule row;
``alert_rows`` and ``wait_alerts`` read what the evaluator wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest

from hatang.stack import Stack
from tests.plugins.ingest import LoggedProcess, stop_processes
from tests.plugins.ports import free_port


@dataclass
class AlertProcess(LoggedProcess):
    """One ``hatang alerts`` subprocess and its JSON-lines log."""

    wait_log_s: ClassVar[float] = 60


@dataclass
class Evaluators:
    """Starts ``hatang alerts`` processes for one test; everything started is stopped at teardown."""

    stack: Stack
    db_url: str
    prefix: str
    tmp: Path
    started: list[AlertProcess] = field(default_factory=list)

    def start(
        self, name: str = "e1", *, wait: bool = True, args: tuple[str, ...] = (),
        last_seen_granularity_s: str | None = None, **settings: str,
    ) -> AlertProcess:  # fmt: skip
        """Start ``hatang alerts``; waits until it is subscribed and has replayed.

        ``last_seen_granularity_s`` is the ingest workers' (the evaluator's silence slack), when a test
        runs them with another than the default.
        """
        port = free_port()
        env = {
            **os.environ,
            "HATANG_DATABASE_URL": self.db_url,
            "HATANG_MQTT_URL": self.stack.mqtt_url("api"),
            "HATANG_TOPIC_PREFIX": self.prefix,
            "HATANG_ALERTS__METRICS_PORT": str(port),
            **({} if last_seen_granularity_s is None
               else {"HATANG_INGEST__LAST_SEEN_GRANULARITY_S": last_seen_granularity_s}),
            **{f"HATANG_ALERTS__{key.upper()}": value for key, value in settings.items()},
        }
        log = self.tmp / f"alerts-{name}-{len(self.started)}.log"
        with log.open("wb") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hatang.cli", "alerts", *args],
                env=env, stdout=handle, stderr=subprocess.STDOUT,
            )  # fmt: skip
        process = AlertProcess(name=name, proc=proc, log=log, metrics_port=port)
        self.started.append(process)
        if wait and "--no-evaluate" not in args:
            process.wait_log("evaluator ready")
            process.wait_log("subscribed")
        return process

    def stop_all(self) -> None:
        """SIGTERM every running process, SIGKILL those that do not exit in time."""
        stop_processes([process.proc for process in self.started], timeout=20)


@pytest.fixture
def evaluators(stack: Stack, db_url: str, topic_prefix: str, tmp_path: Path) -> Iterator[Evaluators]:
    """Start ``hatang alerts`` processes against the test's database and prefix."""
    group = Evaluators(stack=stack, db_url=db_url, prefix=topic_prefix, tmp=tmp_path)
    try:
        yield group
    finally:
        group.stop_all()


def add_rule(db_url: str, organisation: str, **columns: Any) -> int:
    """Insert an ``alert_rules`` row for ``organisation`` (a slug); its id."""
    values = {"name_vi": "Quy tắc thử", "name_en": "Test rule", "severity": "major", **columns}
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            f"INSERT INTO alert_rules (organisation_id, {names})"
            f" SELECT id, {marks} FROM organisations WHERE slug = %s RETURNING id",
            (*values.values(), organisation),
        ).fetchone()
        assert row is not None
        return int(row[0])


def alert_rows(db_url: str) -> list[dict[str, Any]]:
    """Every alert with its rule, subject (external id), state and event kinds, oldest first."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            """
            SELECT a.id, a.rule_id, a.subject_kind,
                   coalesce(d.external_id, s.external_id, a.subject_id::text), a.state,
                   array(SELECT kind FROM alert_events e WHERE e.alert_id = a.id ORDER BY e.id)
            FROM alerts a
            LEFT JOIN devices d ON a.subject_kind = 'device' AND d.id = a.subject_id
            LEFT JOIN assets s ON a.subject_kind = 'asset' AND s.id = a.subject_id
            ORDER BY a.id
            """
        ).fetchall()
    return [
        {"id": r[0], "rule": r[1], "kind": r[2], "subject": r[3], "state": r[4], "events": list(r[5])}
        for r in rows
    ]


def wait_alerts(db_url: str, predicate: Any, *, timeout: float = 60) -> list[dict[str, Any]]:
    """Wait until ``predicate(alert_rows)`` holds; the rows then (AssertionError on timeout)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = alert_rows(db_url)
        if predicate(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"alerts never matched: {rows}")
