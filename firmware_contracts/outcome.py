"""What the normaliser returns: readings, rejections and the closed set of reason codes.

Owns :class:`Reading`, :class:`Rejection` and :class:`Normalised`; the reason codes a rejection
carries are :data:`firmware_contracts.vocabulary.REJECTION_REASONS`. A reading is a
named tuple, so the ingest pipeline can hand it to COPY as it is; the two others are frozen msgspec
structs, which cost a third of a named tuple to make (the normaliser makes one per message).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec


class Reading(NamedTuple):
    """One canonical reading: epoch seconds (UTC), catalogue metric name, value in its unit."""

    time: float
    metric: str
    value: float


class Rejection(msgspec.Struct, frozen=True, gc=False):
    """Why (part of) a message was not accepted.

    ``record`` is the index of the SenML record at fault, ``None`` for the whole message or a native
    payload; ``field`` names the native key or SenML name at fault when there is one.
    """

    reason: str
    message: str
    record: int | None = None
    field: str | None = None


class Normalised(msgspec.Struct, frozen=True, gc=False):
    """The outcome of one message: what was accepted and what was not (possibly both)."""

    readings: list[Reading]
    rejections: list[Rejection]
