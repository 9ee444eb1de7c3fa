"""``hatang timeseries``: rollup and retention maintenance (the job ``make run`` keeps running).

``maintain`` is the periodic job: at start it prepares the backend the TimescaleDB edition allows
(``timeseries.ensure``), then on the Apache edition refreshes the rollup tables every
``HATANG_TIMESERIES__REFRESH_INTERVAL_S`` and applies retention every ``RETENTION_INTERVAL_S``
(on the community edition continuous-aggregate and retention policies do both inside the database).
Several replicas are safe: one refresh runs at a time (an advisory lock), the others skip.
``refresh``, ``retention`` and ``status`` run once.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from datetime import timedelta
from types import FrameType
from typing import Any

import psycopg

import timeseries
from hatang.db import timescale_info
from hatang.output import add_format_argument, render
from hatang.settings import Settings, TimeseriesSettings
from hatang.stack import Stack
from ingest import purge_dead_letters


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``timeseries maintain|refresh|retention|status``."""
    parser = subparsers.add_parser("timeseries", help="rollups and retention of readings")
    inner = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inner.add_parser("maintain", help="the periodic job: refresh rollups, apply retention").set_defaults(
        func=_maintain
    )
    inner.add_parser("refresh", help="bring the rollups up to date once").set_defaults(func=_refresh)
    inner.add_parser("retention", help="drop expired chunks once").set_defaults(func=_retention)
    status = inner.add_parser("status", help="backend, watermarks and pending late minutes")
    add_format_argument(status)
    status.set_defaults(func=_status)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _ensure(conn: psycopg.Connection[Any], cfg: TimeseriesSettings, settings: Settings) -> timeseries.Backend:
    return timeseries.ensure(
        conn,
        info=timescale_info(conn),
        refresh_interval=timedelta(seconds=cfg.refresh_interval_s),
        late_window=timedelta(seconds=settings.contracts.max_age_s),
        raw_retention=_days(cfg.raw_retention_days),
        rollup_1m_retention=_days(cfg.rollup_1m_retention_days),
        rollup_1h_retention=_days(cfg.rollup_1h_retention_days),
    )


def _apply_retention(conn: psycopg.Connection[Any], cfg: TimeseriesSettings) -> timeseries.RetentionReport:
    return timeseries.apply_retention(
        conn,
        raw=_days(cfg.raw_retention_days),
        rollup_1m=_days(cfg.rollup_1m_retention_days),
        rollup_1h=_days(cfg.rollup_1h_retention_days),
    )


def _purge(conn: psycopg.Connection[Any], settings: Settings) -> int:
    """Dead-letter retention (``HATANG_INGEST__DEAD_LETTER_RETENTION_DAYS``), with the readings'."""
    deleted = purge_dead_letters(conn, older_than=_days(settings.ingest.dead_letter_retention_days))
    if deleted:
        print(f"hatang timeseries: retention deleted {deleted} dead letters", flush=True)
    return deleted


def _maintain(args: argparse.Namespace, settings: Settings) -> int:
    cfg = settings.timeseries
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    url = Stack.from_settings(settings).database_url
    with psycopg.connect(url, autocommit=True) as conn:
        backend = _ensure(conn, cfg, settings)
        print(f"hatang timeseries: {backend} backend", flush=True)
        if backend == "continuous":
            # Policies inside the database refresh and drop readings; dead letters are ours.
            while not stop.is_set():
                _purge(conn, settings)
                stop.wait(cfg.retention_interval_s)
            return 0
        next_retention = time.monotonic()
        while not stop.is_set():
            try:
                report = timeseries.refresh(conn)
                if report.minute_rows or report.invalidated_minutes:
                    print(f"hatang timeseries: refreshed to {report.watermark_1m:%Y-%m-%d %H:%M} "
                          f"({report.minute_rows} minute rows, {report.invalidated_minutes} late minutes)",
                          flush=True)  # fmt: skip
            except timeseries.RefreshBusyError:
                pass  # another replica is refreshing
            if time.monotonic() >= next_retention:
                dropped = _apply_retention(conn, cfg)
                if dropped.readings or dropped.readings_1m or dropped.readings_1h:
                    print(f"hatang timeseries: retention dropped {dropped}", flush=True)
                _purge(conn, settings)
                next_retention = time.monotonic() + cfg.retention_interval_s
            stop.wait(cfg.refresh_interval_s)
    return 0


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(Stack.from_settings(settings).database_url, autocommit=True) as conn:
        if _ensure(conn, settings.timeseries, settings) == "continuous":
            print("continuous aggregates: refreshed by their policies")
            return 0
        report = timeseries.refresh(conn)
    print(f"watermarks: 1m {report.watermark_1m}, 1h {report.watermark_1h}; "
          f"{report.minute_rows} minute rows, {report.hour_rows} hour rows, "
          f"{report.invalidated_minutes} late minutes re-aggregated")  # fmt: skip
    return 0


def _retention(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(Stack.from_settings(settings).database_url, autocommit=True) as conn:
        report = _apply_retention(conn, settings.timeseries)
        letters = _purge(conn, settings)
    print(f"chunks dropped: readings {report.readings}, readings_1m {report.readings_1m}, "
          f"readings_1h {report.readings_1h}; dead letters deleted: {letters}")  # fmt: skip
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    with psycopg.connect(Stack.from_settings(settings).database_url, autocommit=True) as conn:
        info = timescale_info(conn)
        rows = conn.execute(
            "SELECT level, watermark, refreshed_at FROM rollup_state ORDER BY level"
        ).fetchall()
        late = conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
        status: dict[str, Any] = {
            "edition": info.edition,
            "chosen": timeseries.choose_backend(info),
            "in_use": timeseries.backend_in_use(conn),
            "watermarks": {r[0]: {"watermark": str(r[1]), "refreshed_at": str(r[2])} for r in rows},
            "late_minutes_pending": late[0] if late else 0,
        }
    if args.format == "json":
        print(json.dumps(status, indent=2))
        return 0
    table: list[dict[str, Any]] = [
        {"item": "edition", "value": status["edition"]},
        {"item": "backend chosen", "value": status["chosen"]},
        {"item": "backend in use", "value": status["in_use"]},
        *(
            {"item": f"watermark {level}", "value": f"{w['watermark']} (refreshed {w['refreshed_at']})"}
            for level, w in status["watermarks"].items()
        ),
        {"item": "late minutes pending", "value": status["late_minutes_pending"]},
    ]
    print(render(table, args.format))
    return 0
