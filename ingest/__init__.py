"""The MQTT ingest pipeline: broker to TimescaleDB, at least once, each reading stored once.

The worker (``hatang ingest``, composed in ``ingest.runner``) subscribes to device telemetry through a
shared subscription, normalises with ``firmware_contracts`` and commits batches before acknowledging.
Other packages use what ``__all__`` lists: the worker's entry (:func:`run`, :func:`tune_interpreter`,
:class:`IngestMetrics`, the ``logs`` module), the dead-letter functions (the API lists and replays
through them; the maintenance job purges old ones), the MQTT adapter's :class:`Consumer`, its
:class:`Delivery` and :func:`parse_url` (the API's feed, the benches), the binary COPY rows of
``pgcopy`` (the storage bench), the per-device latency book of ``latency`` (the readiness bench),
and the :class:`RegistryWatcher` with :func:`load_devices` and ``FETCH_SLICE`` (``hatang bench city``
times the worker's loop through them), and ``UPSERT_SEEN``, the per-batch last_seen write, with
``array_literal``, how its arrays are sent (``hatang bench seen`` times it). The rest of the
package is the worker's own. See docs/ingest.md.
"""

from __future__ import annotations

from ingest import latency, logs, pgcopy
from ingest.batch import TopicLayout
from ingest.deadletters import (
    DeadLetterRow,
    ReplayOutcome,
    list_dead_letters,
    purge_dead_letters,
    replay_dead_letters,
)
from ingest.delivery import Delivery
from ingest.errors import BrokerError, IngestError, ReplayError, StoreError
from ingest.metrics import IngestMetrics
from ingest.mqtt import Consumer, parse_url
from ingest.pgcopy import array_literal
from ingest.queries import FETCH_SLICE, load_devices
from ingest.runner import run, tune_interpreter
from ingest.sink import UPSERT_SEEN
from ingest.watcher import RegistryWatcher

__all__ = [
    "FETCH_SLICE",
    "UPSERT_SEEN",
    "BrokerError",
    "Consumer",
    "DeadLetterRow",
    "Delivery",
    "IngestError",
    "IngestMetrics",
    "RegistryWatcher",
    "ReplayError",
    "ReplayOutcome",
    "StoreError",
    "TopicLayout",
    "array_literal",
    "latency",
    "list_dead_letters",
    "load_devices",
    "logs",
    "parse_url",
    "pgcopy",
    "purge_dead_letters",
    "replay_dead_letters",
    "run",
    "tune_interpreter",
]

