"""Delivery-latency histograms and the rule that makes a zone "low-latency IoT ready".

Pure: plain values in, plain values out. A histogram is a tuple of counts, one per bucket of
``BOUNDS`` (a latency ``x`` falls in the first bucket whose bound is ``>= x``) plus one overflow
bucket. Ingest fills them per device and hour (``ingest.latency``); readiness merges a zone's and
asks whether the chosen quantile lies at or under the bound. Because the bound must be one of the
bucket bounds, that question has an exact integer answer: ``count(latency <= bound) >= ceil(q * n)``.
docs/readiness.md states the definition this module implements.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from firmware_contracts.vocabulary import LATENCY_BOUNDS_S

# The buckets are the vocabulary's: ingest fills them, this module judges them.
BOUNDS: tuple[float, ...] = LATENCY_BOUNDS_S
BUCKETS = len(BOUNDS) + 1


class ZoneReason(StrEnum):
    """Why a zone is not low-latency IoT ready, first cause first."""

    NO_DEVICE = "no_device"  # no active device on an asset in the zone
    SILENT = "silent"  # active devices, none reported within the freshness window
    UNMEASURED = "unmeasured"  # reports, but no latency measured in the window
    SLOW = "slow"  # the quantile of delivery latency is above the bound


def bucket(latency_s: float) -> int:
    """The bucket of one latency; negative (a device clock ahead) counts as the lowest."""
    return bisect.bisect_left(BOUNDS, latency_s)


def histogram(latencies: Iterable[float]) -> tuple[int, ...]:
    """Counts per bucket of ``latencies``."""
    counts = [0] * BUCKETS
    for value in latencies:
        counts[bucket(value)] += 1
    return tuple(counts)


def merge(histograms: Iterable[Sequence[int]]) -> tuple[int, ...]:
    """The bucket-wise sum of ``histograms``."""
    total = [0] * BUCKETS
    for counts in histograms:
        for index, count in enumerate(counts):
            total[index] += count
    return tuple(total)


def quantile_bound(counts: Sequence[int], quantile: Decimal) -> float | None:
    """The smallest bucket bound at or under which ``quantile`` of the latencies lie.

    None when nothing was measured; ``math.inf`` when the quantile lies in the overflow bucket.
    """
    n = sum(counts)
    if n == 0:
        return None
    needed = math.ceil(Fraction(quantile) * n)
    seen = 0
    for index, count in enumerate(counts[: len(BOUNDS)]):
        seen += count
        if seen >= needed:
            return BOUNDS[index]
    return math.inf


@dataclass(frozen=True, slots=True)
class ZoneFacts:
    """What the registry and ingest know about one zone over the freshness window."""

    active_devices: int
    fresh_devices: int
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ZoneVerdict:
    """One zone's readiness: the measured quantile, ready or not, and why not."""

    messages: int
    latency_s: float | None
    ready: bool
    reason: ZoneReason | None


def judge(facts: ZoneFacts, *, bound_s: float, quantile: Decimal) -> ZoneVerdict:
    """Ready: an active device reported within the window, and the quantile of latency <= the bound."""
    messages = sum(facts.counts)
    measured = quantile_bound(facts.counts, quantile)
    if facts.active_devices == 0:
        reason: ZoneReason | None = ZoneReason.NO_DEVICE
    elif facts.fresh_devices == 0:
        reason = ZoneReason.SILENT
    elif measured is None:
        reason = ZoneReason.UNMEASURED
    elif measured > bound_s:
        reason = ZoneReason.SLOW
    else:
        reason = None
    return ZoneVerdict(messages=messages, latency_s=measured, ready=reason is None, reason=reason)
