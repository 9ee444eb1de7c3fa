"""The platform's shared vocabulary: the plan's sectors, the reason codes, the shapes of codes and ids.

Owns the one spelling of each: every package imports it from here (``firmware_contracts`` is the
innermost package, so every other may). It holds plain values only: no I/O, no pydantic.

- **Sectors**: :data:`Sector` and :data:`SECTORS`, the five sectors of Kế hoạch 333/KH-UBND (II.2)
  in the plan's own order ("giao thông, năng lượng, điện, nước, đô thị"). The list has this one
  source; a later ``sectors`` table would be the source instead and fill :data:`SECTORS` at start-up,
  with :data:`SECTOR_CODE` (the shape a sector code must have) taking the place of the closed
  ``Literal`` in request validation. The migrations' CHECK constraint (0001) and seed (0300) spell the
  same five, as SQL must; tests/firmware_contracts/test_vocabulary.py holds them to this list.
- **Reason codes** of dead letters: :data:`REJECTION_REASONS` (the normaliser's, per reading or
  message) and :data:`INGEST_REASONS` (what ingest adds before and after normalising);
  :data:`DEAD_LETTER_REASONS` is both. Readiness gap reasons are another thing, with another name
  (``registry.readiness.GAP_REASONS``).
- **Codes and ids**: the regular expressions every identifier column's CHECK constraint
  (0001_core.sql) enforces, anchored, for request validation and file uploads alike.
"""

from __future__ import annotations

from typing import Literal, get_args

#: A sector of the plan; the closed set of :data:`SECTORS`.
Sector = Literal["transport", "energy", "electricity", "water", "urban"]

#: The plan's sectors in its own order: every metric, device model and asset has one.
SECTORS: tuple[Sector, ...] = get_args(Sector)

#: Every reason code a normaliser ``Rejection`` can carry (documented in docs/contracts.md).
REJECTION_REASONS: frozenset[str] = frozenset(
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

#: Reason codes ingest adds to the normaliser's own (docs/ingest.md).
INGEST_REASONS: frozenset[str] = frozenset(
    {
        "bad_topic",  # the topic is not <prefix>/devices/<device>/telemetry
        "unknown_device",  # no device with that id in the registry
        "device_not_active",  # the device exists but is provisioned, suspended or retired
        "unknown_model",  # the device's model (or version) is not in this worker's contracts
        "unknown_metric",  # the model measures a metric the database's catalogue lacks
    }
)

#: Every reason a dead letter can carry.
DEAD_LETTER_REASONS: frozenset[str] = REJECTION_REASONS | INGEST_REASONS

#: Area codes, organisation slugs and (the shape of) sector codes.
CODE = r"^[a-z0-9][a-z0-9-]{0,62}$"
SLUG = CODE
SECTOR_CODE = CODE
#: Device external ids (they are MQTT user names and topic levels).
DEVICE_ID = r"^[a-z0-9][a-z0-9_-]{1,63}$"
#: Asset external ids (an owner's own asset numbers).
ASSET_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
#: Asset kinds.
KIND = r"^[a-z][a-z0-9_]{0,62}$"
#: Device model names.
MODEL = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
#: Catalogue metric names.
METRIC = r"^[a-z][a-z0-9_]{0,62}$"
