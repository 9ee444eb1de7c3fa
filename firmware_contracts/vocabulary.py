"""The platform's shared vocabulary: the plan's sectors, the reason codes, the shapes of codes and ids.

Owns the one spelling of each: every package imports it from here (``firmware_contracts`` is the
innermost package, so every other may). It holds plain values only: no I/O, no pydantic.

- **Sectors** are data: the ``sectors`` table (migration 1002), seeded with the five of Kế hoạch
  333/KH-UBND (II.2) in the plan's own order ("giao thông, năng lượng, điện, nước, đô thị"); a later
  plan adds one (health, education) with a row. So this module holds no list, only the shape of a
  sector code (:data:`SECTOR_CODE`) and its type (:data:`Sector`, a code); what exists is the
  database's to say (readiness, the report, the dashboard and device health read the rows; foreign
  keys refuse a code that is not one). The contracts' catalogue names the sectors of its metrics
  (``firmware_contracts.sectors()``); tests/firmware_contracts/test_vocabulary.py holds the
  migrations' seed to the catalogue's sectors.
- **Reason codes** of dead letters: :data:`REJECTION_REASONS` (the normaliser's, per reading or
  message) and :data:`INGEST_REASONS` (what ingest adds before and after normalising);
  :data:`DEAD_LETTER_REASONS` is both. Readiness gap reasons are another thing, with another name
  (``registry.readiness.GAP_REASONS``).
- **Delivery-latency buckets** (:data:`LATENCY_BOUNDS_S`): the upper bounds of the per-device
  latency histograms ingest writes and zone readiness reads (``registry.readiness.latency``).
- **Codes and ids**: the regular expressions every identifier column's CHECK constraint
  (0001_core.sql) enforces, anchored, for request validation and file uploads alike.
"""

from __future__ import annotations

#: A sector's code: a row of the ``sectors`` table (every metric, device model and asset has one).
Sector = str

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

#: Upper bounds (seconds, inclusive) of the delivery-latency histogram buckets, plus one overflow
#: bucket above the last: what ingest counts per device and hour and zone readiness judges
#: (docs/readiness.md, "Low-latency IoT in the zones"). Ingest commits a batch at most 200 ms after
#: it opens and the 5,000 msg/s load test lands at p99 0.28 s, so the low buckets are where a
#: healthy zone sits; the high ones tell a slow link from a device replaying buffered readings.
LATENCY_BOUNDS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
