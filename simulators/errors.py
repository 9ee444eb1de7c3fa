"""The simulators' exceptions: one base, a subclass per failure, each carrying what went wrong.

Owns :class:`SimulatorError` and its subclasses. Expected bad input elsewhere is data, not an
exception; these are for a simulation that cannot run as asked.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every simulators error."""


class SignalError(SimulatorError):
    """A device model the signal families cannot simulate."""

    def __init__(self, message: str, *, model: str, metric: str | None) -> None:
        super().__init__(message)
        self.model = model
        self.metric = metric


class FleetError(SimulatorError):
    """Creating or loading a fleet failed (the API refused, or the credentials file is unusable)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PublishError(SimulatorError):
    """The broker refused a connection or a publishing worker failed."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
