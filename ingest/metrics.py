"""The ingest worker's Prometheus metrics, on a registry of their own (served on their own port).

Owns :class:`IngestMetrics`. Names follow STYLE.md §13: ``hatang_ingest_*``, base units, ``_total``
counters; the only label is a rejection's reason code (a closed set), never a device or a topic.
"""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)


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
        self.acked = counter("hatang_ingest_messages_acked_total", "Messages acknowledged after commit.")
        self.batch_readings = histogram(
            "hatang_ingest_batch_readings", "Readings per committed batch.", buckets=_BATCH_BUCKETS
        )
        self.commit_seconds = histogram(
            "hatang_ingest_commit_seconds", "Time to write and commit one batch.", buckets=_COMMIT_BUCKETS
        )
        self.lag_seconds = histogram(
            "hatang_ingest_lag_seconds",
            "From a message's newest reading time to the commit of its batch.",
            buckets=_LAG_BUCKETS,
        )
        self.queue_messages = gauge("hatang_ingest_queue_messages", "Messages held, not yet acknowledged.")
        self.store_failures = counter(
            "hatang_ingest_store_failures_total", "Batch writes that failed (and were retried)."
        )
        self.broker_reconnects = counter(
            "hatang_ingest_broker_reconnects_total", "Connections to the broker after a loss."
        )
        self.devices = gauge("hatang_ingest_devices_cached", "Devices in the registry cache.")

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
        """Serve ``/metrics`` on ``port`` in a daemon thread (0: do nothing)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)
