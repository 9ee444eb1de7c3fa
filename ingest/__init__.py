"""The MQTT ingest pipeline: broker to TimescaleDB, at least once, each reading stored once.

The worker (``hatang ingest``, composed in ``ingest.runner``) subscribes to device telemetry through a
shared subscription, normalises with ``firmware_contracts`` and commits batches before acknowledging.
Other packages use the dead-letter functions below (the API lists and replays through them); the
rest of the package is the worker's own. See docs/ingest.md.
"""

from __future__ import annotations

from ingest.batch import TopicLayout
from ingest.deadletters import DeadLetterRow, ReplayOutcome, list_dead_letters, replay_dead_letters
from ingest.errors import BrokerError, IngestError, ReplayError, StoreError

__all__ = [
    "BrokerError",
    "DeadLetterRow",
    "IngestError",
    "ReplayError",
    "ReplayOutcome",
    "StoreError",
    "TopicLayout",
    "list_dead_letters",
    "replay_dead_letters",
]
