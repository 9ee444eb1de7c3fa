"""The scheduler's Prometheus metrics, on a registry of their own (served on their own port).

Names follow STYLE.md §13 (``hatang_scheduler_*``); the only label is ``task``, the job name (a closed
set; not ``job``, which is Prometheus's own target label).
The alert "scheduler not running" (helm PrometheusRule) reads ``hatang_scheduler_leader`` and
``hatang_scheduler_job_last_success_timestamp_seconds``.
"""

from __future__ import annotations

from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)


class SchedulerMetrics:
    """Every metric of one scheduler process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.leader = Gauge(
            "hatang_scheduler_leader", "1 while this replica holds the leader lock.", registry=r
        )
        counter = partial(Counter, registry=r)
        self.runs = counter(
            "hatang_scheduler_job_runs_total", "Job runs, by task (the job's name) and outcome.",
            ["task", "outcome"],
        )
        self.last_success = Gauge(
            "hatang_scheduler_job_last_success_timestamp_seconds",
            "Unix time the job last finished without error.",
            ["task"],
            registry=r,
        )
        self.duration = Histogram(
            "hatang_scheduler_job_duration_seconds", "Time one job run took.", ["task"],
            buckets=_DURATION_BUCKETS, registry=r,
        )  # fmt: skip

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
        """Serve ``/metrics`` on ``port`` in a daemon thread (0: do nothing)."""
        if port:
            start_http_server(port, addr=host, registry=self.registry)
