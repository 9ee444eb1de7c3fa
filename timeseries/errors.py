"""The exceptions of time-series queries: one base, one subclass per failure, each carrying its data.

``timeseries`` does not depend on the registry: its errors carry the same fields as the registry's
matching kinds (``entity``/``key`` for what was not found, ``field``/``value``/``reason`` for a bad
argument), and only ``api`` turns them into HTTP problems.
"""

from __future__ import annotations


class TimeseriesError(Exception):
    """Base of every time-series error."""


class InvalidArgumentError(TimeseriesError):
    """A query argument the time series cannot serve: ``field`` had ``value``, refused for ``reason``."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class InvalidBucketError(InvalidArgumentError):
    """A bucket width outside 1 minute .. 1 day, or not a whole number of minutes."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__("bucket", value, reason)


class InvalidRangeError(InvalidArgumentError):
    """A time range whose end is not after its start, or a request that would return too many rows."""


class MissingError(TimeseriesError):
    """No ``entity`` with this ``key`` (or none the caller may see)."""

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"no {entity} {key!r}")
        self.entity = entity
        self.key = key


class UnknownMetricError(MissingError):
    """No metric of the catalogue has this name."""

    def __init__(self, name: str) -> None:
        super().__init__("metric", name)
        self.name = name


class UnknownDeviceError(MissingError):
    """No device has this external id (or none the caller may see)."""

    def __init__(self, external_id: str) -> None:
        super().__init__("device", external_id)
        self.external_id = external_id
