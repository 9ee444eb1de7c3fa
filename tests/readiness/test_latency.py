"""The pure rule of low-latency readiness: histogram buckets, the quantile bound and the verdict."""

from __future__ import annotations

import math
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from registry.readiness.latency import (
    BOUNDS,
    BUCKETS,
    ZoneFacts,
    ZoneReason,
    bucket,
    histogram,
    judge,
    merge,
    quantile_bound,
)

latencies = st.lists(st.floats(min_value=-10, max_value=1000, allow_nan=False), min_size=1, max_size=300)
quantiles = st.decimals(min_value=Decimal("0.0001"), max_value=1, places=4)


@given(latencies, quantiles)
def test_quantile_bound_is_the_first_bound_holding_the_quantile(values: list[float], q: Decimal) -> None:
    found = quantile_bound(histogram(values), q)
    needed = math.ceil(q * len(values))
    ordered = sorted(values)
    true_quantile = ordered[needed - 1]  # the smallest value with `needed` values at or under it
    assert found is not None
    assert true_quantile <= found
    lower = [b for b in BOUNDS if b < found]
    if lower:  # the bucket below would not hold enough values
        assert sum(1 for v in values if v <= lower[-1]) < needed
    if math.isinf(found):
        assert true_quantile > BOUNDS[-1]


@given(st.lists(latencies, min_size=1, max_size=5))
def test_merge_is_the_histogram_of_everything(parts: list[list[float]]) -> None:
    assert merge(histogram(p) for p in parts) == histogram([v for p in parts for v in p])


def test_bounds_are_inclusive_and_the_overflow_is_last() -> None:
    assert bucket(1.0) == BOUNDS.index(1.0)
    assert bucket(1.0000001) == BOUNDS.index(2.0)
    assert bucket(-3) == 0
    assert bucket(301) == BUCKETS - 1
    assert quantile_bound((0,) * BUCKETS, Decimal("0.95")) is None


def _facts(active: int, fresh: int, values: list[float]) -> ZoneFacts:
    return ZoneFacts(active_devices=active, fresh_devices=fresh, counts=histogram(values))


def test_verdicts_first_cause_first() -> None:
    q, bound = Decimal("0.95"), 1.0
    fast = [0.2] * 95 + [5.0] * 5  # exactly 95% at or under 0.25 s
    slow = [0.2] * 94 + [5.0] * 6
    assert judge(_facts(0, 0, []), bound_s=bound, quantile=q).reason is ZoneReason.NO_DEVICE
    assert judge(_facts(2, 0, fast), bound_s=bound, quantile=q).reason is ZoneReason.SILENT
    assert judge(_facts(2, 1, []), bound_s=bound, quantile=q).reason is ZoneReason.UNMEASURED
    verdict = judge(_facts(2, 1, slow), bound_s=bound, quantile=q)
    assert (verdict.ready, verdict.reason, verdict.latency_s, verdict.messages) == (
        False, ZoneReason.SLOW, 5.0, 100,
    )  # fmt: skip
    verdict = judge(_facts(2, 1, fast), bound_s=bound, quantile=q)
    assert (verdict.ready, verdict.reason, verdict.latency_s) == (True, None, 0.25)
