"""Bucket widths, their alignment, and which rollup (and which kind of rollup) serves them.

Pure: plain values in, plain values out. A bucket is a whole number of minutes from 1 minute to
1 day; widths that are whole hours are served by the per-hour rollup, the rest by the per-minute one.
Buckets start at ``origin`` (local midnight in Viet Nam by default), which must lie on a whole hour so
that every bucket is a union of whole rollup buckets and rollups answer exactly what raw data would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from hatang.db import TimescaleInfo
from timeseries.errors import InvalidBucketError

Level = Literal["1m", "1h"]
Backend = Literal["continuous", "tables"]

LEVEL_WIDTH: dict[Level, timedelta] = {"1m": timedelta(minutes=1), "1h": timedelta(hours=1)}
MIN_WIDTH = timedelta(minutes=1)
MAX_WIDTH = timedelta(days=1)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d{1,5})\s*(m|min|h|d)\s*$")


@dataclass(frozen=True, slots=True)
class Bucket:
    """A bucket width the aggregate queries accept."""

    width: timedelta

    def __post_init__(self) -> None:
        if not MIN_WIDTH <= self.width <= MAX_WIDTH:
            raise InvalidBucketError(self.label, "must be from 1 minute to 1 day")
        if self.width % MIN_WIDTH:
            raise InvalidBucketError(self.label, "must be a whole number of minutes")

    @classmethod
    def parse(cls, text: str) -> Bucket:
        """``"5m"``, ``"15min"``, ``"1h"``, ``"1d"`` — a count and a unit (minutes, hours, days)."""
        match = _PATTERN.match(text)
        if match is None:
            raise InvalidBucketError(text, "expected a count and a unit: 5m, 1h, 1d")
        return cls(timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)]))

    @property
    def label(self) -> str:
        """The shortest spelling: ``1d``, ``6h`` or ``90m``."""
        seconds = int(self.width.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600)):
            if seconds and seconds % size == 0:
                return f"{seconds // size}{unit}"
        return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"

    @property
    def level(self) -> Level:
        """The coarsest rollup whose buckets tile this width."""
        return "1h" if self.width % LEVEL_WIDTH["1h"] == timedelta(0) else "1m"


def check_origin(origin: datetime) -> datetime:
    """``origin`` if it lies on a whole hour of UTC (so hourly rollups tile every bucket); else raise."""
    if origin.tzinfo is None:
        raise InvalidBucketError(origin.isoformat(), "the bucket origin needs a UTC offset")
    utc = origin.astimezone(UTC)
    if utc.minute or utc.second or utc.microsecond:
        raise InvalidBucketError(origin.isoformat(), "the bucket origin must lie on a whole hour of UTC")
    return origin


def floor_to(moment: datetime, bucket: Bucket, origin: datetime) -> datetime:
    """Start of the bucket holding ``moment``."""
    return moment - (moment - origin) % bucket.width


def align(start: datetime, end: datetime, bucket: Bucket, origin: datetime) -> tuple[datetime, datetime]:
    """The range of whole buckets covering ``[start, end)``: start floored, end ceiled."""
    first = floor_to(start, bucket, origin)
    last = floor_to(end, bucket, origin)
    return first, (last if last == end else last + bucket.width)


def choose_backend(info: TimescaleInfo) -> Backend:
    """Continuous aggregates where the edition has them; the platform's own rollup tables otherwise."""
    return "continuous" if info.has_continuous_aggregates else "tables"
