"""The pure readiness arithmetic: hand-checked cases and a few sharp properties."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.readiness.core import (
    Counts,
    Point,
    Status,
    Target,
    assess,
    is_met,
    pace,
    projection,
    required,
    select_target,
    share_of,
    status,
    still_needed,
)
from registry.readiness.errors import InvalidCountsError

FORTY = Decimal("0.4")
DEADLINE = date(2025, 12, 31)
PLAN = Target(sector="water", share=FORTY, deadline=DEADLINE)


def test_forty_percent_exactly_is_met() -> None:
    counts = Counts(essential=5, equipped=3, ready=2)
    assert required(FORTY, 5) == 2
    assert is_met(FORTY, counts)
    assert still_needed(FORTY, counts) == 0
    assert status(PLAN, counts, as_of=date(2026, 11, 29), projected=None) is Status.MET


def test_required_is_an_exact_ceiling_not_a_float_one() -> None:
    # 0.7 * 10 is 7.000000000000001 in floats; the exact ceiling is 7.
    assert required(Decimal("0.7"), 10) == 7
    assert required(FORTY, 7) == 3
    assert required(Decimal("0.4"), 0) == 0


def test_one_short_of_the_boundary() -> None:
    counts = Counts(essential=7, equipped=4, ready=2)
    assert not is_met(FORTY, counts)
    assert still_needed(FORTY, counts) == 1


def test_counts_that_cannot_be_are_refused() -> None:
    with pytest.raises(InvalidCountsError):
        Counts(essential=3, equipped=1, ready=2)
    with pytest.raises(InvalidCountsError):
        Counts(essential=-1, equipped=0, ready=0)


def test_status_over_time() -> None:
    behind = Counts(essential=10, equipped=5, ready=1)
    before = date(2025, 6, 1)
    assert status(PLAN, behind, as_of=before, projected=None) is Status.BEHIND
    assert status(PLAN, behind, as_of=before, projected=date(2025, 12, 31)) is Status.ON_TRACK
    assert status(PLAN, behind, as_of=before, projected=date(2026, 1, 1)) is Status.BEHIND
    assert status(PLAN, behind, as_of=DEADLINE, projected=None) is Status.BEHIND
    assert status(PLAN, behind, as_of=DEADLINE + timedelta(days=1), projected=None) is Status.MISSED
    assert status(PLAN, Counts(0, 0, 0), as_of=before, projected=None) is Status.NO_ASSETS
    assert status(None, behind, as_of=before, projected=None) is Status.NO_TARGET


def test_the_nearest_deadline_not_passed_applies_then_the_latest() -> None:
    later = Target(sector="water", share=Decimal("0.8"), deadline=date(2030, 12, 31))
    other = Target(sector="urban", share=Decimal("0.5"), deadline=date(2024, 1, 1))
    targets = [later, PLAN, other]
    assert select_target(targets, sector="water", as_of=date(2025, 1, 1)) == PLAN
    assert select_target(targets, sector="water", as_of=DEADLINE) == PLAN
    assert select_target(targets, sector="water", as_of=date(2026, 1, 1)) == later
    assert select_target(targets, sector="water", as_of=date(2031, 1, 1)) == later
    assert select_target(targets, sector="energy", as_of=date(2025, 1, 1)) is None


def test_pace_is_the_least_squares_slope_of_the_share() -> None:
    today = date(2025, 6, 30)
    points = [Point(day=today - timedelta(days=k), counts=Counts(100, 50, 30 - 2 * k)) for k in range(5)]
    assert pace(points, as_of=today, window_days=30) == pytest.approx(0.02)
    # One point left in the window: no pace.
    assert pace(points, as_of=today, window_days=0) is None
    # Days after as_of do not count.
    assert pace(points, as_of=today - timedelta(days=3), window_days=30) == pytest.approx(0.02)


def test_projection_and_on_track() -> None:
    today = date(2025, 6, 30)
    counts = Counts(essential=100, equipped=50, ready=30)
    # 10 points to go at 1 point a day: met on 10 July.
    assert projection(FORTY, counts, as_of=today, pace_per_day=0.01) == date(2025, 7, 10)
    assert projection(FORTY, counts, as_of=today, pace_per_day=0.0) is None
    assert projection(FORTY, counts, as_of=today, pace_per_day=-0.01) is None
    assert projection(FORTY, Counts(10, 4, 4), as_of=today, pace_per_day=0.01) is None
    history = [Point(day=today - timedelta(days=k), counts=Counts(100, 50, 30 - k)) for k in range(1, 11)]
    result = assess(sector="water", counts=counts, targets=[PLAN], as_of=today, history=history)
    assert result.pace_per_day == pytest.approx(0.01)
    assert result.projected == date(2025, 7, 10)
    assert result.status is Status.ON_TRACK
    assert result.still_needed == 10
    assert result.required == 40
    assert result.ready_share == pytest.approx(0.3)
    assert result.equipped_share == pytest.approx(0.5)


def test_an_imperceptible_pace_projects_nothing_rather_than_overflowing() -> None:
    counts = Counts(essential=100, equipped=50, ready=30)
    assert projection(FORTY, counts, as_of=date(2025, 1, 1), pace_per_day=1e-300) is None
    assert projection(FORTY, counts, as_of=date(2025, 1, 1), pace_per_day=5e-324) is None


def test_assess_replaces_a_history_point_of_the_same_day() -> None:
    today = date(2025, 6, 30)
    stale = Point(day=today, counts=Counts(100, 0, 0))
    earlier = Point(day=today - timedelta(days=1), counts=Counts(100, 29, 29))
    result = assess(
        sector="water", counts=Counts(100, 30, 30), targets=[PLAN], as_of=today, history=[earlier, stale]
    )
    assert result.pace_per_day == pytest.approx(0.01)


shares = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4)


@st.composite
def counts(draw: st.DrawFn) -> Counts:
    essential = draw(st.integers(min_value=0, max_value=10**6))
    equipped = draw(st.integers(min_value=0, max_value=essential))
    ready = draw(st.integers(min_value=0, max_value=equipped))
    return Counts(essential=essential, equipped=equipped, ready=ready)


@given(share=shares, c=counts())
def test_needed_is_never_negative_and_closes_the_gap_exactly(share: Decimal, c: Counts) -> None:
    needed = still_needed(share, c)
    assert needed >= 0
    if c.essential:
        grown = Counts(essential=c.essential, equipped=c.essential, ready=min(c.essential, c.ready + needed))
        assert is_met(share, grown)
        if needed:
            short = Counts(essential=c.essential, equipped=c.essential, ready=c.ready + needed - 1)
            assert not is_met(share, short)


@given(share=shares, c=counts())
def test_met_iff_ready_reaches_the_exact_ceiling(share: Decimal, c: Counts) -> None:
    if c.essential == 0:
        assert not is_met(share, c)
        return
    assert is_met(share, c) == (c.ready >= math.ceil(Fraction(share) * c.essential))
    assert is_met(share, c) == (Fraction(c.ready, c.essential) >= Fraction(share))
    ready_share = share_of(c.ready, c)
    assert ready_share is not None
    assert 0.0 <= ready_share <= 1.0


@given(
    share=shares,
    c=counts(),
    as_of=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 1, 1)),
    rate=st.none() | st.floats(min_value=-1, max_value=1, allow_nan=False),
)
def test_status_agrees_with_its_parts(share: Decimal, c: Counts, as_of: date, rate: float | None) -> None:
    target = Target(sector="urban", share=share, deadline=DEADLINE)
    projected = projection(share, c, as_of=as_of, pace_per_day=rate)
    assert projected is None or projected > as_of
    result = status(target, c, as_of=as_of, projected=projected)
    assert (result is Status.MET) == is_met(share, c)
    if result is Status.MISSED:
        assert as_of > DEADLINE
    if result is Status.ON_TRACK:
        assert projected is not None
        assert projected <= DEADLINE
