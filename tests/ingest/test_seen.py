"""last_seen is written when it moved by the granularity, and never lags by more."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ingest.batch import Upserts
from ingest.seen import SeenThrottle


def _seen(pairs: list[tuple[int, float]]) -> Upserts:
    return Upserts([], [], [], [], [d for d, _ in pairs], [t for _, t in pairs], [], [])


def test_written_once_per_granularity() -> None:
    throttle = SeenThrottle(granularity_s=60)
    first = throttle.thin(_seen([(1, 1000.0), (2, 1000.0)]))
    assert (first.seen_device, first.seen_at) == ([1, 2], [1000.0, 1000.0])
    assert throttle.thin(_seen([(1, 1059.9), (2, 1030.0)])).seen_device == []
    later = throttle.thin(_seen([(1, 1060.0), (2, 1061.0), (3, 1061.0)]))
    assert (later.seen_device, later.seen_at) == ([1, 2, 3], [1060.0, 1061.0, 1061.0])


def test_zero_granularity_writes_every_batch() -> None:
    throttle = SeenThrottle(granularity_s=0)
    assert throttle.thin(_seen([(1, 5.0)])).seen_device == [1]
    assert throttle.thin(_seen([(1, 5.0)])).seen_device == [1]


@given(st.lists(st.floats(min_value=0, max_value=10_000), min_size=1, max_size=200), st.floats(1, 600))
def test_what_is_written_lags_the_truth_by_less_than_the_granularity(steps: list[float], step: float) -> None:
    throttle = SeenThrottle(granularity_s=step)
    written, now = None, 0.0
    for gap in steps:
        now += gap
        due = throttle.thin(_seen([(7, now)]))
        if due.seen_at:
            written = due.seen_at[0]
        assert written is not None  # the first sighting is always written
        assert now - written < step
