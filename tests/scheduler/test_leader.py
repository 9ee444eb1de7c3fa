"""``hatang scheduler``: two real replicas on one database; one leads, each job runs once per interval."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

INTERVALS = {"rollup_refresh": 1.0, "retention": 2.0, "readiness_snapshot": 1.5}


def _start(db_url: str, name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATANG_")}
    env.update(
        HATANG_DATABASE_URL=db_url,
        HATANG_SCHEDULER__NAME=name,
        HATANG_SCHEDULER__POLL_S="0.2",
        HATANG_SCHEDULER__METRICS_PORT="0",
        HATANG_TIMESERIES__REFRESH_INTERVAL_S=str(INTERVALS["rollup_refresh"]),
        HATANG_TIMESERIES__RETENTION_INTERVAL_S=str(INTERVALS["retention"]),
        HATANG_READINESS__SNAPSHOT_INTERVAL_S=str(INTERVALS["readiness_snapshot"]),
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hatang.cli", "scheduler"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


Run = tuple[str, str, datetime, bool]


def _runs(db_url: str) -> list[Run]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT job, holder, started_at, ok FROM scheduler_runs WHERE finished_at IS NOT NULL ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _wait_for(db_url: str, until: object, what: str, timeout: float = 120) -> list[Run]:
    deadline = time.monotonic() + timeout
    while True:
        runs = _runs(db_url)
        if until(runs):  # type: ignore[operator]
            return runs
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {runs}"
        time.sleep(0.2)


def _by_job(runs: list[Run]) -> dict[str, list[Run]]:
    out: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        out[run[0]].append(run)
    return out


def _assert_once_per_interval(runs: list[Run]) -> None:
    for job, own in _by_job(runs).items():
        starts = [r[2] for r in own]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(starts)]
        # Never twice within an interval, by any replica (1 ms of float rounding allowed).
        assert all(g >= INTERVALS[job] - 0.001 for g in gaps), (job, gaps)


@pytest.fixture
def schedulers(db_url: str, tmp_path: Path) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], Path]]]:
    logs = {name: tmp_path / f"{name}.log" for name in "ab"}
    procs = {name: (_start(db_url, name, log), log) for name, log in logs.items()}
    try:
        yield procs
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_two_schedulers_one_leader_each_job_once_per_interval(
    db_url: str, schedulers: dict[str, tuple[subprocess.Popen[bytes], Path]]
) -> None:
    # Both replicas are up; wait until every job has run three times.
    runs = _wait_for(
        db_url, lambda rs: all(len(_by_job(rs)[j]) >= 3 for j in INTERVALS), "three runs of every job"
    )
    holders = {r[1] for r in runs}
    assert len(holders) == 1, holders
    leader = holders.pop()
    standby = "b" if leader == "a" else "a"
    # The other replica was running all along, and knew it was the standby.
    assert schedulers[standby][0].poll() is None
    assert "standby" in schedulers[standby][1].read_text()
    assert all(r[3] for r in runs), [r for r in runs if not r[3]]
    _assert_once_per_interval(runs)

    # The leader dies without a goodbye: the standby takes over, and the schedule carries on.
    schedulers[leader][0].kill()
    schedulers[leader][0].wait(timeout=30)
    before = len(runs)
    runs = _wait_for(
        db_url,
        lambda rs: all(sum(1 for r in rs[before:] if r[0] == j and r[1] == standby) >= 2 for j in INTERVALS),
        "two runs of every job by the new leader",
    )
    assert {r[1] for r in runs[before:]} == {standby}
    assert "leader: " + standby in schedulers[standby][1].read_text()
    assert all(r[3] for r in runs)
    _assert_once_per_interval(runs)


def test_make_run_supervises_the_scheduler_role() -> None:
    from hatang.commands.run import _processes
    from hatang.settings import Settings

    argvs = [p.argv for p in _processes(Settings())]
    assert ["scheduler"] in argvs
    assert ["timeseries", "maintain"] not in argvs  # the scheduler does it, once
