"""The scheduler's jobs: what runs, how often, and what each does.

Owns ``build_jobs``: rollup refresh and retention (only on the Apache edition: on the community
edition TimescaleDB's own continuous-aggregate and retention policies do both inside the database)
and today's readiness snapshot. Each job opens its own connection per run, so a database restart
costs one failed run, not the process. It does not decide who runs them (``leader`` does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

import timeseries
from hatang.settings import Settings
from registry.readiness import snapshots


@dataclass(frozen=True, slots=True)
class Job:
    """One periodic job: its name (a ``scheduler_runs.job`` value), period and body.

    ``run`` returns a one-line summary recorded with the run; an exception marks the run failed.
    """

    name: str
    interval: timedelta
    run: Callable[[], Awaitable[str]]


def build_jobs(database_url: str, *, settings: Settings, backend: timeseries.Backend) -> list[Job]:
    """The jobs for this deployment: ``backend`` is what ``timeseries.ensure`` chose at start."""
    cfg = settings.timeseries

    def _refresh() -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            try:
                report = timeseries.refresh(conn)
            except timeseries.RefreshBusyError:
                return "skipped: another refresh (a `timeseries maintain` process) holds the lock"
        return (f"1m to {report.watermark_1m}, {report.minute_rows} minute rows, "
                f"{report.invalidated_minutes} late minutes")  # fmt: skip

    def _retention() -> str:
        with psycopg.connect(database_url, autocommit=True) as conn:
            report = timeseries.apply_retention(
                conn,
                raw=timedelta(days=cfg.raw_retention_days),
                rollup_1m=timedelta(days=cfg.rollup_1m_retention_days),
                rollup_1h=timedelta(days=cfg.rollup_1h_retention_days),
            )
        return (f"chunks dropped: readings {report.readings}, readings_1m {report.readings_1m}, "
                f"readings_1h {report.readings_1h}")  # fmt: skip

    async def refresh() -> str:
        return await asyncio.to_thread(_refresh)

    async def retention() -> str:
        return await asyncio.to_thread(_retention)

    async def snapshot() -> str:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            taken = await snapshots.take(conn, settings=settings.readiness, now=datetime.now(UTC))
        return f"readiness snapshot of {taken.day}: {taken.rows} rows"

    jobs = []
    if backend == "tables":
        jobs.append(Job("rollup_refresh", timedelta(seconds=cfg.refresh_interval_s), refresh))
        jobs.append(Job("retention", timedelta(seconds=cfg.retention_interval_s), retention))
    every = timedelta(seconds=settings.readiness.snapshot_interval_s)
    jobs.append(Job("readiness_snapshot", every, snapshot))
    return jobs
