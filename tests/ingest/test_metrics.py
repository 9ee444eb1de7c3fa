"""The batch-observed lag histogram exposes exactly what prometheus_client's own would."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from hatang.settings import Settings
from ingest.metrics import BatchHistogram, IngestMetrics
from tests.plugins.ports import free_port

BUCKETS = (0.01, 0.025, 0.1, 1, 5, 60)
lag = st.floats(min_value=-10, max_value=1e5, allow_nan=False)


def _exposition(registry: CollectorRegistry) -> tuple[list[str], float]:
    """Every line but ``_created`` and ``_sum``, and the sum (added in another order: not bit-equal)."""
    lines = generate_latest(registry).decode().splitlines()
    total = next(float(line.split()[-1]) for line in lines if line.startswith("lag_seconds_sum "))
    return [line for line in lines if "_created" not in line and "_sum" not in line], total


@given(st.lists(st.lists(lag, max_size=40), max_size=6))
def test_batch_histogram_matches_prometheus_histogram(batches: list[list[float]]) -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    reference = Histogram("lag_seconds", "Lag.", buckets=BUCKETS, registry=theirs)
    histogram = BatchHistogram("lag_seconds", "Lag.", BUCKETS, ours)
    for values in batches:
        for value in values:
            reference.observe(value)
        histogram.observe_many(values)
    (our_lines, our_sum), (their_lines, their_sum) = _exposition(ours), _exposition(theirs)
    assert our_lines == their_lines
    assert math.isclose(our_sum, their_sum, rel_tol=1e-9, abs_tol=1e-9)


def test_values_on_a_bound_fall_in_that_bucket() -> None:
    registry = CollectorRegistry()
    histogram = BatchHistogram("x_seconds", "X.", (1, 2), registry)
    histogram.observe_many([1.0, 2.0, 2.0000001])
    assert registry.get_sample_value("x_seconds_bucket", {"le": "1.0"}) == 1
    assert registry.get_sample_value("x_seconds_bucket", {"le": "2.0"}) == 2
    assert registry.get_sample_value("x_seconds_bucket", {"le": "+Inf"}) == 3
    assert registry.get_sample_value("x_seconds_count") == 3


def test_worker_metrics_expose_lag_and_last_commit() -> None:
    metrics = IngestMetrics()
    metrics.lag_seconds.observe_many([0.2, 0.3])
    metrics.last_commit.set(1_800_000_000.5)
    text = generate_latest(metrics.registry).decode()
    assert 'hatang_ingest_lag_seconds_bucket{le="0.25"} 1.0' in text
    assert "hatang_ingest_lag_seconds_count 2.0" in text
    assert "hatang_ingest_last_commit_timestamp_seconds 1.8000000005e+09" in text


def _listening(port: int) -> set[str]:
    """Local addresses listening on TCP ``port`` (from /proc/net/tcp, IPv4)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.add(".".join(str(int(address[i : i + 2], 16)) for i in (6, 4, 2, 0)))
    return found


def test_the_metrics_endpoint_listens_on_loopback_unless_told_otherwise() -> None:
    """Finding 11: the default is 127.0.0.1 (HATANG_INGEST__METRICS_HOST), not every interface."""
    assert Settings().ingest.metrics_host == "127.0.0.1"
    port = free_port()
    IngestMetrics().serve(port)
    assert _listening(port) == {"127.0.0.1"}
    other = free_port()
    IngestMetrics().serve(other, host="0.0.0.0")  # noqa: S104 - what a container is told to do
    assert _listening(other) == {"0.0.0.0"}  # noqa: S104
