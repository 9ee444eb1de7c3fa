"""Time series of readings: raw pages, ``time_bucket`` aggregates, latest values, rollups, retention.

``aggregates``, ``readings`` and ``latest`` are the reads the API calls (async); ``rollups`` and
``retention`` the maintenance the ``hatang timeseries`` job runs (sync); ``buckets`` and ``scope`` the
pure parts they share. docs/dashboard.md explains rollups, their backends and retention.
"""

from timeseries.aggregates import GROUP_BY, AggregateRow, GroupBy, aggregate, aggregate_query, metric_id
from timeseries.buckets import Backend, Bucket, Level, align, check_origin, choose_backend
from timeseries.errors import (
    InvalidArgumentError,
    InvalidBucketError,
    InvalidRangeError,
    MissingError,
    TimeseriesError,
    UnknownDeviceError,
    UnknownMetricError,
)
from timeseries.latest import HEALTH_STATES, HealthCount, LatestValue, health, latest
from timeseries.readings import RawReading, from_time_key, raw_readings, time_key
from timeseries.retention import RetentionReport, apply_retention
from timeseries.rollups import (
    LATE_AFTER,
    REFRESH_LAG,
    RefreshBusyError,
    RefreshReport,
    backend_in_use,
    ensure,
    refresh,
)
from timeseries.scope import Scope

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
    "InvalidArgumentError",
    "InvalidBucketError",
    "InvalidRangeError",
    "LatestValue",
    "Level",
    "MissingError",
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
    "metric_id",
    "raw_readings",
    "refresh",
    "time_key",
]
