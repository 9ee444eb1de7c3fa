"""The alert process's Prometheus metrics, on a registry of their own (served on their own port).

Owns :class:`AlertMetrics`. Names follow STYLE.md §13: ``hatang_alerts_*``, base units, ``_total``
counters; labels are closed sets (rule kind, channel kind), never a device, rule id or address.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)


class AlertMetrics:
    """Counters and gauges of one ``hatang alerts`` process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rules = Gauge("hatang_alerts_rules", "Enabled rules loaded, by kind.", ["kind"], registry=r)
        self.evaluations = Counter(
            "hatang_alerts_evaluations_total", "Rule evaluations (a reading against a rule, or a sweep).",
            ["kind"], registry=r,
        )  # fmt: skip
        self.readings = Counter(
            "hatang_alerts_readings_total", "Committed readings received from the fan-out or a catch-up.",
            ["source"], registry=r,
        )  # fmt: skip
        self.opened = Counter("hatang_alerts_opened_total", "Alerts opened.", ["kind"], registry=r)
        self.resolved = Counter(
            "hatang_alerts_resolved_total", "Alerts resolved by the evaluator.", ["kind"], registry=r
        )
        self.lag = Histogram(
            "hatang_alerts_open_lag_seconds",
            "From the breaking reading's time to its alert's opening (threshold rules).",
            buckets=_LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.deliveries = Counter(
            "hatang_alerts_notifications_delivered_total", "Notifications delivered.", ["channel"], registry=r
        )
        self.failures = Counter(
            "hatang_alerts_notification_failures_total", "Failed delivery attempts (retried later).",
            ["channel"], registry=r,
        )  # fmt: skip
        self.pending = Gauge(
            "hatang_alerts_notifications_pending", "Outbox rows not yet delivered.", registry=r
        )

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
        """Serve ``/metrics`` on ``port`` in a daemon thread (0: do nothing)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)
