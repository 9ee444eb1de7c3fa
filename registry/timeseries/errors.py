"""The exceptions of time-series queries: one base, one subclass per failure, each carrying its data.

``TimeseriesError`` is a ``RegistryError`` and each failure also subclasses the registry's matching
kind (not found, invalid reference), so the API's registry handlers render them as the right problem
without knowing time series. Only ``api`` turns them into HTTP.
"""

from __future__ import annotations

from registry.errors import InvalidReferenceError, NotFoundError, RegistryError


class TimeseriesError(RegistryError):
    """Base of every time-series error."""


class InvalidBucketError(TimeseriesError, InvalidReferenceError):
    """A bucket width outside 1 minute .. 1 day, or not a whole number of minutes."""

    def __init__(self, value: str, reason: str) -> None:
        InvalidReferenceError.__init__(self, "bucket", value, reason)


class InvalidRangeError(TimeseriesError, InvalidReferenceError):
    """A time range whose end is not after its start, or a request that would return too many rows."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        InvalidReferenceError.__init__(self, field, value, reason)


class UnknownMetricError(TimeseriesError, NotFoundError):
    """No metric of the catalogue has this name."""

    def __init__(self, name: str) -> None:
        NotFoundError.__init__(self, "metric", name)
        self.name = name


class UnknownDeviceError(TimeseriesError, NotFoundError):
    """No device has this external id (or none the caller may see)."""

    def __init__(self, external_id: str) -> None:
        NotFoundError.__init__(self, "device", external_id)
        self.external_id = external_id
