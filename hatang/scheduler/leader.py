"""Leader election and the run loop of the scheduler role.

One replica leads: it holds a session-level PostgreSQL advisory lock (``LOCK_KEY``) on a connection
it keeps open, and records every job run on that same connection. When the leader's process or
connection dies the server releases the lock, and a standby that retries every ``poll_s`` takes
over. A job is due when ``interval`` has passed since the last recorded start (database clock), so
the schedule survives restarts and takeovers. It does not know what the jobs do (``jobs`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from hatang.scheduler.jobs import Job
from hatang.scheduler.metrics import SchedulerMetrics

log = logging.getLogger(__name__)

# pg_advisory_lock key of the scheduler role ("hatangsc" as a big-endian int64).
LOCK_KEY = int.from_bytes(b"hatangsc", "big") - (1 << 63)


class Scheduler:
    """Runs ``prepare``'s jobs while this replica is the leader; waits as a standby otherwise."""

    def __init__(
        self,
        *,
        database_url: str,
        holder: str,
        prepare: Callable[[], Awaitable[list[Job]]],
        metrics: SchedulerMetrics,
        poll_s: float,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._url = database_url
        self._holder = holder
        self._prepare = prepare
        self._metrics = metrics
        self._poll_s = poll_s
        self._say = on_event or log.info

    async def run(self, stop: asyncio.Event) -> None:
        """Compete for the lead until ``stop`` is set; lead while holding the lock."""
        standby_said = False
        while not stop.is_set():
            try:
                conn: psycopg.AsyncConnection[Any]
                async with await psycopg.AsyncConnection.connect(self._url, autocommit=True) as conn:
                    while not stop.is_set():
                        cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                        row = await cur.fetchone()
                        if row is not None and row[0]:
                            break
                        if not standby_said:
                            self._say(f"standby: another replica leads ({self._holder})")
                            standby_said = True
                        await _wait(stop, self._poll_s)
                    if stop.is_set():
                        return
                    self._say(f"leader: {self._holder}")
                    self._metrics.leader.set(1)
                    try:
                        await self._lead(conn, stop)
                    finally:
                        self._metrics.leader.set(0)
                        standby_said = False
            except psycopg.Error as exc:
                self._say(f"database connection lost, retrying in {self._poll_s:g} s: {type(exc).__name__}")
                await _wait(stop, self._poll_s)

    async def _lead(self, conn: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> None:
        jobs = await self._prepare()
        self._say("jobs: " + ", ".join(f"{j.name} every {j.interval.total_seconds():g} s" for j in jobs))
        while not stop.is_set():
            wait = self._poll_s
            for job in jobs:
                remaining = await _remaining(conn, job)
                if remaining <= 0:
                    await self._run_one(conn, job)
                    remaining = job.interval.total_seconds()
                wait = min(wait, remaining)
                if stop.is_set():
                    return
            await _wait(stop, max(wait, 0.05))

    async def _run_one(self, conn: psycopg.AsyncConnection[Any], job: Job) -> None:
        cur = await conn.execute(
            "INSERT INTO scheduler_runs (job, holder, started_at) VALUES (%s, %s, now()) RETURNING id",
            (job.name, self._holder),
        )
        row = await cur.fetchone()
        assert row is not None
        started = time.perf_counter()
        ok, detail = True, ""
        try:
            detail = await job.run()
        except Exception as exc:  # any failure of a job is recorded; the loop goes on
            ok, detail = False, f"{type(exc).__name__}: {str(exc).strip()[:500]}"
        self._metrics.duration.labels(job.name).observe(time.perf_counter() - started)
        self._metrics.runs.labels(job.name, "ok" if ok else "error").inc()
        if ok:
            self._metrics.last_success.labels(job.name).set(time.time())
        await conn.execute(
            "UPDATE scheduler_runs SET finished_at = clock_timestamp(), ok = %s, detail = %s WHERE id = %s",
            (ok, detail, row[0]),
        )
        self._say(f"{job.name}: {'ok' if ok else 'FAILED'} {detail}")


async def _remaining(conn: psycopg.AsyncConnection[Any], job: Job) -> float:
    """Seconds until ``job`` is due (<= 0: due now), from its last recorded start."""
    cur = await conn.execute(
        "SELECT %s - extract(epoch FROM now() - max(started_at))::float8 FROM scheduler_runs WHERE job = %s",
        (job.interval.total_seconds(), job.name),
    )
    row = await cur.fetchone()
    return 0.0 if row is None or row[0] is None else float(row[0])


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
