"""The pure core of alert evaluation: hold, hysteresis, redelivery, silence and rates."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from alerts.core import Decision, Operator, State, Threshold, default_silence_s, over_rate, silent, step
from alerts.series import quiet_band

BELOW = Threshold(operator="below", low=2.0, high=None, clear_low=2.5, clear_high=None, hold_s=300)
OUTSIDE = Threshold(operator="outside", low=10.0, high=90.0, clear_low=None, clear_high=None, hold_s=0)


def _run(rule: Threshold, readings: list[tuple[float, float]]) -> list[Decision]:
    state, decisions = State(), []
    for t, v in readings:
        state, decision = step(rule, state, t, v)
        decisions.append(decision)
    return decisions


def test_a_breach_opens_only_once_held_for_the_duration() -> None:
    decisions = _run(BELOW, [(0, 1.5), (100, 1.4), (299, 1.3), (300, 1.2), (400, 1.1)])
    assert decisions == [Decision.NONE] * 3 + [Decision.OPEN, Decision.NONE]


def test_a_breach_interrupted_before_the_hold_starts_again() -> None:
    decisions = _run(BELOW, [(0, 1.5), (200, 2.1), (300, 1.5), (500, 1.5), (600, 1.5)])
    assert decisions == [Decision.NONE] * 4 + [Decision.OPEN]


def test_hysteresis_a_value_hovering_at_the_limit_does_not_flap() -> None:
    held = [(float(t), 1.5) for t in range(0, 400, 100)]
    hovering = [(float(t), 1.9 if t % 100 else 2.1) for t in range(400, 4000, 50)]
    readings = held + hovering
    decisions = _run(BELOW, readings)
    assert decisions.count(Decision.OPEN) == 1
    assert Decision.RESOLVE not in decisions  # 2.1 is above the limit but not past the clear level 2.5
    assert _run(BELOW, [*readings, (5000.0, 2.6)])[-1] is Decision.RESOLVE


def test_outside_a_band_without_clear_levels_clears_inside_it() -> None:
    assert _run(OUTSIDE, [(0, 95), (1, 50), (2, 5), (3, 50)]) == [
        Decision.OPEN, Decision.RESOLVE, Decision.OPEN, Decision.RESOLVE
    ]  # fmt: skip


@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 5)), max_size=60))
def test_feeding_readings_again_decides_nothing_more(readings: list[tuple[int, float]]) -> None:
    ordered = sorted(dict(readings).items())
    once = _run(BELOW, [(float(t), v) for t, v in ordered])
    twice = _run(BELOW, [(float(t), v) for t, v in ordered + ordered])
    assert twice[: len(once)] == once
    assert set(twice[len(once) :]) <= {Decision.NONE}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 5)), max_size=60))
def test_opens_and_resolves_alternate(readings: list[tuple[int, float]]) -> None:
    acted = [d for d in _run(BELOW, [(float(t), v) for t, v in readings]) if d is not Decision.NONE]
    assert acted == [Decision.OPEN, Decision.RESOLVE] * (len(acted) // 2) + [Decision.OPEN] * (len(acted) % 2)


def test_not_a_number_is_never_a_breach() -> None:
    assert _run(OUTSIDE, [(0, float("nan")), (1, float("inf"))]) == [Decision.NONE, Decision.NONE]


def test_silence_and_rates() -> None:
    assert default_silence_s(300) == 900
    assert silent(last_seen=1000.0, created=0.0, now=1901.0, duration_s=900)
    assert not silent(last_seen=1000.0, created=0.0, now=1900.0, duration_s=900)
    assert silent(last_seen=None, created=0.0, now=901.0, duration_s=900)
    assert over_rate(11, 10)
    assert not over_rate(10, 10)


_LIMIT = st.one_of(st.none(), st.floats(-1e6, 1e6))


@st.composite
def _thresholds(draw: st.DrawFn) -> Threshold:
    operator: Operator = draw(st.sampled_from(["above", "below", "outside"]))
    return Threshold(operator=operator, low=draw(_LIMIT), high=draw(_LIMIT), clear_low=None, clear_high=None,
                     hold_s=0)  # fmt: skip


@given(st.lists(_thresholds(), max_size=8), st.floats(allow_nan=True, allow_infinity=True))
def test_a_value_inside_the_quiet_band_breaks_no_rule_and_one_outside_breaks_one(
    thresholds: list[Threshold], value: float
) -> None:
    """The evaluator's fast path (alerts.series) skips the rules of a value inside the band."""
    low, high = quiet_band(thresholds)
    breaks = any(t.breaches(value) for t in thresholds)
    if low <= value <= high:
        assert not breaks
    elif low <= high and not math.isnan(value):  # a non-empty band, a number outside it
        assert breaks
