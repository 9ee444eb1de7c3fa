"""The readiness arithmetic: shares, assets still needed, pace, projection and status.

Pure: plain values in, plain values out — no I/O, no clock reads (the caller passes ``as_of``), no
globals. Counts are whole assets and targets are exact decimals, so "met" is an integer comparison
(``ready >= ceil(target * essential)``), never a float one: 40.0% of 5 assets is 2 assets, and 2 is
met. docs/readiness.md states the definitions this module implements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from registry.readiness.errors import InvalidCountsError


class Status(StrEnum):
    """Where a sector stands against its target on a given day."""

    MET = "met"
    ON_TRACK = "on_track"
    BEHIND = "behind"
    MISSED = "missed"
    # No essential asset in scope: a share of nothing is neither met nor missed.
    NO_ASSETS = "no_assets"
    # No target recorded for the sector (every sector is seeded; only a manual delete gets here).
    NO_TARGET = "no_target"


@dataclass(frozen=True, slots=True)
class Counts:
    """Essential assets in scope, those equipped (active fitting device) and those ready (it reports)."""

    essential: int
    equipped: int
    ready: int

    def __post_init__(self) -> None:
        if not 0 <= self.ready <= self.equipped <= self.essential:
            raise InvalidCountsError(essential=self.essential, equipped=self.equipped, ready=self.ready)


@dataclass(frozen=True, slots=True)
class Target:
    """A planned share of ready essential assets in a sector by a deadline (inclusive)."""

    sector: str
    share: Decimal
    deadline: date
    source: str = ""


@dataclass(frozen=True, slots=True)
class Point:
    """One day of a sector's series (a snapshot, or today's live figures)."""

    day: date
    counts: Counts


@dataclass(frozen=True, slots=True)
class Assessment:
    """A sector's readiness on ``as_of``: the figures a planner reads."""

    sector: str
    as_of: date
    counts: Counts
    ready_share: float | None
    equipped_share: float | None
    target: Target | None
    required: int | None
    still_needed: int | None
    status: Status
    pace_per_day: float | None
    projected: date | None


def required(share: Decimal, essential: int) -> int:
    """Ready assets needed for ``share`` of ``essential``: the ceiling, computed exactly."""
    if essential < 0:
        raise InvalidCountsError(essential=essential, equipped=0, ready=0)
    return math.ceil(Fraction(share) * essential)


def still_needed(share: Decimal, counts: Counts) -> int:
    """Assets that must still become ready to reach ``share``; never negative."""
    return max(0, required(share, counts.essential) - counts.ready)


def share_of(part: int, counts: Counts) -> float | None:
    """``part / essential`` as a float for display, or None when there is no essential asset."""
    return part / counts.essential if counts.essential else None


def is_met(share: Decimal, counts: Counts) -> bool:
    """Whether ready assets reach ``share`` (a scope without essential assets never "meets")."""
    return counts.essential > 0 and counts.ready >= required(share, counts.essential)


def select_target(targets: Iterable[Target], *, sector: str, as_of: date) -> Target | None:
    """The target that applies on ``as_of``: the nearest deadline not yet passed, else the latest one.

    A later plan adds a target with a later deadline; once the earlier deadline passes, the later
    target applies. With every deadline passed, the last one stays (and reads "missed" or "met").
    """
    mine = sorted((t for t in targets if t.sector == sector), key=lambda t: t.deadline)
    if not mine:
        return None
    return next((t for t in mine if t.deadline >= as_of), mine[-1])


def pace(points: Sequence[Point], *, as_of: date, window_days: int) -> float | None:
    """Change of the ready share per day: least-squares slope over the points of the last window.

    Points after ``as_of``, older than ``window_days`` or without essential assets are ignored;
    fewer than two days left means no pace (None). A least-squares line, not the two end points, so
    one odd day (a mass registration, an outage) moves the pace less.
    """
    start = as_of - timedelta(days=window_days)
    series = {
        p.day: p.counts.ready / p.counts.essential
        for p in points
        if start <= p.day <= as_of and p.counts.essential > 0
    }
    if len(series) < 2:
        return None
    xs = [float((day - as_of).days) for day in series]
    ys = list(series.values())
    mean_x = sum(xs) / len(xs)
    mean_y = sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return sxy / sxx


def projection(share: Decimal, counts: Counts, *, as_of: date, pace_per_day: float | None) -> date | None:
    """The day the ready share reaches ``share`` if it keeps rising at ``pace_per_day``.

    None when the target is already met, there are no essential assets, or the share is not rising.
    The day is rounded up: the first whole day on which the line has reached the target.
    """
    if counts.essential == 0 or is_met(share, counts) or pace_per_day is None or pace_per_day <= 0:
        return None
    gap = float(Fraction(share) - Fraction(counts.ready, counts.essential))
    # The tolerance keeps float noise (0.1 / 0.09999999999999999) from adding a whole day.
    days = gap / pace_per_day - 1e-9
    if not days < (date.max - as_of).days:
        # A pace so slow that the line reaches the target after year 9999 (or overflows): never.
        return None
    return as_of + timedelta(days=max(1, math.ceil(days)))


def status(target: Target | None, counts: Counts, *, as_of: date, projected: date | None) -> Status:
    """Met; missed once the deadline has passed unmet; on track when the projection meets the deadline."""
    if target is None:
        return Status.NO_TARGET
    if counts.essential == 0:
        return Status.NO_ASSETS
    if is_met(target.share, counts):
        return Status.MET
    if as_of > target.deadline:
        return Status.MISSED
    if projected is not None and projected <= target.deadline:
        return Status.ON_TRACK
    return Status.BEHIND


def assess(
    *,
    sector: str,
    counts: Counts,
    targets: Iterable[Target],
    as_of: date,
    history: Sequence[Point] = (),
    window_days: int = 30,
) -> Assessment:
    """Everything about one sector on ``as_of``: shares, target, still needed, pace, projection, status.

    ``history`` holds earlier days of the same scope (snapshots); ``counts`` is taken as the point
    for ``as_of`` itself, replacing any history point of that day.
    """
    target = select_target(targets, sector=sector, as_of=as_of)
    points = [p for p in history if p.day != as_of] + [Point(day=as_of, counts=counts)]
    rate = pace(points, as_of=as_of, window_days=window_days)
    projected = None if target is None else projection(target.share, counts, as_of=as_of, pace_per_day=rate)
    return Assessment(
        sector=sector,
        as_of=as_of,
        counts=counts,
        ready_share=share_of(counts.ready, counts),
        equipped_share=share_of(counts.equipped, counts),
        target=target,
        required=None if target is None else required(target.share, counts.essential),
        still_needed=None if target is None else still_needed(target.share, counts),
        status=status(target, counts, as_of=as_of, projected=projected),
        pace_per_day=rate,
        projected=projected,
    )
