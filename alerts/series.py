"""One device's metric as the evaluator keeps it: its threshold rules, its quiet band, its newest time.

Owns :class:`Series`, built once per (device, metric) the first time a reading of it arrives, and
:func:`quiet_band`. Most readings break no rule and no rule of theirs holds a state (nothing pending,
nothing open): for those the evaluator needs only two comparisons against the band inside which no
covering rule breaks, instead of running every covering rule (docs/alerts.md, "Evaluation on
committed data only"). Pure: plain values in and out, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from alerts.core import Threshold
from alerts.subjects import Device, Rule


def quiet_band(thresholds: Sequence[Threshold]) -> tuple[float, float]:
    """``(low, high)``: a value with ``low <= value <= high`` breaks none of ``thresholds``.

    ``above`` breaks past ``high`` and ``below`` under ``low`` (``outside`` either), so the band is
    the highest floor to the lowest ceiling; no rule leaves it unbounded. A band whose low exceeds its
    high holds no value: every reading then takes the rules' own path.
    """
    low, high = -math.inf, math.inf
    for t in thresholds:
        if t.operator in ("above", "outside") and t.high is not None:
            high = min(high, t.high)
        if t.operator in ("below", "outside") and t.low is not None:
            low = max(low, t.low)
    return low, high


@dataclass(slots=True)
class Series:
    """A (device, metric)'s covering threshold rules and what the evaluator knows of it."""

    device: Device
    rules: list[tuple[Rule, Threshold]]
    newest: float = -math.inf  # the newest reading time seen: older ones and redeliveries change nothing
    active: bool = False  # whether any of its rules holds a state (a breach pending, or open)
    low: float = field(init=False)
    high: float = field(init=False)

    def __post_init__(self) -> None:
        self.low, self.high = quiet_band([threshold for _, threshold in self.rules])
