"""``hatang scheduler``: the deployed home of the periodic jobs (rollups, retention, readiness snapshots).

The composition root of the scheduler role: builds settings, metrics and the leader loop, and at
each takeover prepares the rollup backend the TimescaleDB edition allows (``timeseries.ensure``:
on the community edition TimescaleDB's policies then do rollups and retention and only the snapshot
job is left here). Safe as several replicas: one leads through a PostgreSQL advisory lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
from datetime import timedelta
from typing import Any

import psycopg

import timeseries
from hatang.db import timescale_info
from hatang.scheduler import Job, Scheduler, SchedulerMetrics, build_jobs
from hatang.settings import Settings
from hatang.stack import Stack


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``scheduler``."""
    parser = subparsers.add_parser(
        "scheduler", help="run the periodic jobs (one leader among replicas, by advisory lock)"
    )
    parser.set_defaults(func=_scheduler)


def _say(message: str) -> None:
    print(f"hatang scheduler: {message}", flush=True)


def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    url = Stack.from_settings(settings).database_url
    cfg = settings.timeseries

    def _ensure() -> timeseries.Backend:
        with psycopg.connect(url, autocommit=True) as conn:
            info = timescale_info(conn)
            backend = timeseries.ensure(
                conn,
                info=info,
                refresh_interval=timedelta(seconds=cfg.refresh_interval_s),
                late_window=timedelta(seconds=settings.contracts.max_age_s),
                raw_retention=timedelta(days=cfg.raw_retention_days),
                rollup_1m_retention=timedelta(days=cfg.rollup_1m_retention_days),
                rollup_1h_retention=timedelta(days=cfg.rollup_1h_retention_days),
            )
        _say(f"TimescaleDB {info.version} ({info.edition} edition): rollups by {backend}")
        return backend

    async def prepare() -> list[Job]:
        backend = await asyncio.to_thread(_ensure)
        return build_jobs(url, settings=settings, backend=backend)

    metrics = SchedulerMetrics()
    metrics.serve(settings.scheduler.metrics_port)
    holder = settings.scheduler.name or f"{socket.gethostname()}:{os.getpid()}"
    scheduler = Scheduler(
        database_url=url, holder=holder, prepare=prepare, metrics=metrics,
        poll_s=settings.scheduler.poll_s, on_event=_say,
    )  # fmt: skip

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await scheduler.run(stop)

    asyncio.run(main())
    return 0
