"""Time series of readings: raw pages, ``time_bucket`` aggregates, latest values, rollups, retention.

``aggregates``, ``readings`` and ``latest`` are the reads the API calls (async); ``rollups`` and
``retention`` the maintenance the ``hatang timeseries`` job runs (sync); ``buckets`` and ``scope`` the
pure parts they share. docs/dashboard.md explains rollups, their backends and retention.
"""

from registry.timeseries.aggregates import GROUP_BY, AggregateRow, GroupBy, aggregate, aggregate_query
from registry.timeseries.buckets import Backend, Bucket, Level, align, check_origin, choose_backend
from registry.timeseries.errors import (
    InvalidBucketError,
    InvalidRangeError,
    TimeseriesError,
    UnknownDeviceError,
    UnknownMetricError,
)
from registry.timeseries.latest import HEALTH_STATES, HealthCount, LatestValue, health, latest
from registry.timeseries.readings import RawReading, from_time_key, raw_readings, time_key
from registry.timeseries.retention import RetentionReport, apply_retention
from registry.timeseries.rollups import (
    LATE_AFTER,
    REFRESH_LAG,
    RefreshBusyError,
    RefreshReport,
    backend_in_use,
    ensure,
    refresh,
)
from registry.timeseries.scope import Scope

__all__ = [
    "GROUP_BY",
    "HEALTH_STATES",
    "LATE_AFTER",
    "REFRESH_LAG",
    "AggregateRow",
    "Backend",
    "Bucket",
    "GroupBy",
    "HealthCount",
    "InvalidBucketError",
    "InvalidRangeError",
    "LatestValue",
    "Level",
    "RawReading",
    "RefreshBusyError",
    "RefreshReport",
    "RetentionReport",
    "Scope",
    "TimeseriesError",
    "UnknownDeviceError",
    "UnknownMetricError",
    "aggregate",
    "aggregate_query",
    "align",
    "apply_retention",
    "backend_in_use",
    "check_origin",
    "choose_backend",
    "ensure",
    "from_time_key",
    "health",
    "latest",
    "raw_readings",
    "refresh",
    "time_key",
]
