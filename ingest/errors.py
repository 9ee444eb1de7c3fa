"""The exceptions of ``ingest``: one base, one subclass per failing service, carrying what failed.

Bad messages are never exceptions here: they are dead letters (values with a reason code). These
are raised when a service the worker depends on fails; the runner catches them, backs off and
retries, so that the broker keeps holding what has not been acknowledged.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base of every ingest error."""


class BrokerError(IngestError):
    """The MQTT broker refused, dropped or never answered; ``reason`` is a short machine code."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StoreError(IngestError):
    """A batch could not be written; ``sqlstate`` is PostgreSQL's code when the server gave one."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ReplayError(IngestError):
    """A dead letter cannot be replayed (unknown id, or it has no device to replay as)."""

    def __init__(self, message: str, *, dead_letter_id: int) -> None:
        super().__init__(message)
        self.dead_letter_id = dead_letter_id
