"""Readiness as flat rows and CSV: the one shape the command line, the yearly report and open data share.

Owns the column lists and the row of a sector assessment and of a zone, and the CSV text of a
report. ``hatang readiness --format csv``, the yearly report's ``readiness.csv`` and the public
``/open/v1/readiness.csv`` all come from here, so they are byte for byte the same for the same day.
Pure: plain values in, text out.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from registry.readiness.core import Assessment
from registry.readiness.zones import ZoneStatus

COLUMNS: tuple[str, ...] = (
    "sector", "essential", "equipped", "ready", "ready_share", "target_share", "deadline", "status",
    "required", "still_needed", "pace_per_day", "projected",
)  # fmt: skip
AREAS_COLUMNS: tuple[str, ...] = ("area", "sector", "essential", "equipped", "ready", "ready_share", "status")
ZONE_COLUMNS: tuple[str, ...] = (
    "zone", "kind", "in_target", "active_devices", "fresh_devices", "messages", "latency_s", "ready",
    "reason",
)  # fmt: skip


def sector_row(a: Assessment) -> dict[str, Any]:
    """One sector's assessment as a flat row (decimals and dates as text)."""
    target = a.target
    return {
        "sector": a.sector,
        "essential": a.counts.essential,
        "equipped": a.counts.equipped,
        "ready": a.counts.ready,
        "ready_share": a.ready_share,
        "target_share": None if target is None else str(target.share),
        "deadline": None if target is None else target.deadline.isoformat(),
        "status": a.status.value,
        "required": a.required,
        "still_needed": a.still_needed,
        "pace_per_day": a.pace_per_day,
        "projected": None if a.projected is None else a.projected.isoformat(),
    }


def zone_row(z: ZoneStatus) -> dict[str, Any]:
    """One zone's readiness as a flat row (a latency above every bucket as empty)."""
    return {
        "zone": z.code,
        "kind": z.kind,
        "in_target": z.in_target,
        "active_devices": z.active_devices,
        "fresh_devices": z.fresh_devices,
        "messages": z.messages,
        "latency_s": None if z.latency_s is None or math.isinf(z.latency_s) else z.latency_s,
        "ready": z.ready,
        "reason": None if z.reason is None else z.reason.value,
    }


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text with a header, ``\\n`` line ends, no trailing newline."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")


def sectors_csv(sectors: Iterable[Assessment]) -> str:
    """The CSV of ``hatang readiness --format csv``."""
    return to_csv((sector_row(a) for a in sectors), COLUMNS)


def zones_csv(zones: Iterable[ZoneStatus]) -> str:
    """The CSV of ``hatang readiness zones --format csv``."""
    return to_csv((zone_row(z) for z in zones), ZONE_COLUMNS)
