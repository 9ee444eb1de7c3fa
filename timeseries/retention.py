"""Retention: raw readings and rollups older than their settings are dropped, whole chunks at a time.

On the Apache edition there are no job policies, so the maintenance job calls ``apply_retention``
periodically; on the community edition ``rollups.ensure`` adds retention policies instead. Raw
readings are never dropped before the per-minute rollup has covered them (the cut-off is the earlier
of the retention horizon and the rollup watermark less its late window; nothing before a first
refresh). Owns only ``drop_chunks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from timeseries.rollups import LATE_AFTER


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """Chunks dropped per relation."""

    readings: int
    readings_1m: int
    readings_1h: int


def apply_retention(
    conn: psycopg.Connection[Any],
    *,
    raw: timedelta,
    rollup_1m: timedelta,
    rollup_1h: timedelta,
) -> RetentionReport:
    """Drop chunks older than each relation's retention; returns how many went."""
    conn.autocommit = True
    row = conn.execute(
        "SELECT least(now() - %(raw)s::interval,"
        " (SELECT watermark FROM rollup_state WHERE level = '1m') - %(late)s::interval),"
        " (SELECT watermark IS NOT NULL FROM rollup_state WHERE level = '1m')",
        {"raw": raw, "late": LATE_AFTER},
    ).fetchone()
    assert row is not None
    return RetentionReport(
        # NULL (never refreshed): least() of a NULL watermark is the horizon, so test the watermark.
        readings=_drop(conn, "readings", row[0]) if row[1] else 0,
        readings_1m=_drop(conn, "readings_1m", None, keep=rollup_1m),
        readings_1h=_drop(conn, "readings_1h", None, keep=rollup_1h),
    )


def _drop(
    conn: psycopg.Connection[Any],
    relation: str,
    older_than: datetime | None,
    *,
    keep: timedelta | None = None,
) -> int:
    if older_than is None:
        cur = conn.execute(
            "SELECT count(*) FROM drop_chunks(%s, older_than => now() - %s::interval)", (relation, keep)
        )
    else:
        cur = conn.execute("SELECT count(*) FROM drop_chunks(%s, older_than => %s)", (relation, older_than))
    result = cur.fetchone()
    return int(result[0]) if result is not None else 0
