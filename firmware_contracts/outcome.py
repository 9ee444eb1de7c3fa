"""What the normaliser returns: readings, rejections and the closed set of reason codes.

Owns :class:`Reading`, :class:`Rejection`, :class:`Normalised` and :data:`REASONS`. A reading is a
named tuple, so the ingest pipeline can hand it to COPY as it is; the two others are frozen msgspec
structs, which cost a third of a named tuple to make (the normaliser makes one per message).
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

#: Every reason code a :class:`Rejection` can carry (documented in docs/contracts.md).
REASONS: frozenset[str] = frozenset(
    {
        "malformed",  # the bytes are not JSON or CBOR at all
        "too_large",  # the payload exceeds Limits.max_payload_bytes
        "schema",  # decodable, but not the shape, type or format the contract describes
        "unknown_field",  # a native key or SenML name the contract does not declare
        "unit",  # a SenML unit the contract does not accept for that field
        "out_of_range",  # the canonical value lies outside the metric's (or sensor's) range
        "time_in_future",  # the reading's time is later than received_at + Limits.max_future_s
        "too_old",  # the reading's time is earlier than received_at - Limits.max_age_s
        "duplicate",  # a second reading of the same (time, metric) in one message
        "internal",  # the normaliser itself failed; a bug, never expected (counted, not raised)
    }
)


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
