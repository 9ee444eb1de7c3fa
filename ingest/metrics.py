"""The ingest worker's Prometheus metrics, on a registry of their own (served on their own port).

Owns :class:`IngestMetrics`. Names follow STYLE.md §13: ``hatang_ingest_*``, base units, ``_total``
counters; the only label is a rejection's reason code (a closed set), never a device or a topic.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)


class BatchHistogram(Collector):
    """A histogram observed a whole batch at a time: one lock and one bisect per value.

    prometheus_client's :class:`Histogram` takes a lock and walks its buckets per ``observe``
    (1.8 µs a value, measured), which per message was a sixth of the worker's own work on
    single-reading traffic. Exposed the same way (``_bucket``, ``_count``, ``_sum``).
    """

    def __init__(
        self, name: str, documentation: str, buckets: Sequence[float], registry: CollectorRegistry
    ) -> None:
        self._name, self._documentation = name, documentation
        self._bounds = sorted(float(b) for b in buckets)
        self._counts = [0] * (len(self._bounds) + 1)  # the last is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()
        registry.register(self)

    def observe_many(self, values: Sequence[float]) -> None:
        """Add ``values`` (a batch's worth) to the histogram."""
        bounds = self._bounds
        positions = [bisect_left(bounds, v) for v in values]  # bucket le=b holds v <= b
        total = sum(values)
        with self._lock:
            counts = self._counts
            for i in positions:
                counts[i] += 1
            self._sum += total

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self._name, self._documentation)

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, count in zip([*self._bounds, float("inf")], counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), float(cumulative)))  # type: ignore[no-untyped-call]
        family = HistogramMetricFamily(self._name, self._documentation)
        family.add_metric([], buckets, total)
        yield family


class IngestMetrics:
    """Every metric of one worker process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        counter, gauge = partial(Counter, registry=r), partial(Gauge, registry=r)
        histogram = partial(Histogram, registry=r)
        self.received = counter("hatang_ingest_messages_received_total", "MQTT messages received.")
        self.stored = counter("hatang_ingest_readings_stored_total", "Readings newly stored.")
        self.duplicates = counter(
            "hatang_ingest_readings_duplicate_total", "Readings already stored (redeliveries), skipped."
        )
        self.rejected = counter(
            "hatang_ingest_rejections_total", "Dead letters (and rejected records) by reason.", ["reason"]
        )
        self.unstored = counter(
            "hatang_ingest_dead_letters_unstored_total",
            "Dead letters counted but not stored: their device was over its dead-letter budget.",
        )
        self.acked = counter("hatang_ingest_messages_acked_total", "Messages acknowledged after commit.")
        self.batch_readings = histogram(
            "hatang_ingest_batch_readings", "Readings per committed batch.", buckets=_BATCH_BUCKETS
        )
        self.commit_seconds = histogram(
            "hatang_ingest_commit_seconds", "Time to write and commit one batch.", buckets=_COMMIT_BUCKETS
        )
        self.lag_seconds = BatchHistogram(
            "hatang_ingest_lag_seconds",
            "From a message's newest reading time to the commit of its batch.",
            _LAG_BUCKETS,
            r,
        )
        self.last_commit = gauge(
            "hatang_ingest_last_commit_timestamp_seconds", "Unix time of the last committed batch."
        )
        self.queue_messages = gauge("hatang_ingest_queue_messages", "Messages held, not yet acknowledged.")
        self.store_failures = counter(
            "hatang_ingest_store_failures_total", "Batch writes that failed (and were retried)."
        )
        self.broker_reconnects = counter(
            "hatang_ingest_broker_reconnects_total", "Connections to the broker after a loss."
        )
        self.devices = gauge("hatang_ingest_devices_cached", "Devices in the registry cache.")

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``port`` in a daemon thread (0: do nothing)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)
