"""The pure core of alert evaluation: rule semantics as plain values in, decisions out.

Owns :class:`Threshold` (a breach held for a duration, cleared past a separate level: hysteresis),
:func:`step` (one reading through a threshold rule's state for one subject), :func:`silent` and
:func:`over_rate`. No I/O, no clock reads, no globals: the evaluator passes times in and acts on the
decisions (docs/alerts.md, "Rule semantics"). A value that is not finite is ignored, never a breach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Literal

Operator = Literal["above", "below", "outside"]


class Decision(Enum):
    """What a reading asks the evaluator to do for one (rule, subject)."""

    NONE = "none"
    OPEN = "open"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class Threshold:
    """A threshold rule's arithmetic: breach beyond ``low``/``high``, clear past ``clear_low``/``clear_high``.

    ``above`` uses ``high``/``clear_high``, ``below`` uses ``low``/``clear_low``, ``outside`` both.
    A clear level left unset is the limit itself (no hysteresis). ``hold_s`` is how long every
    reading must stay in breach before the alert opens (0: the first breaching reading opens it).
    """

    operator: Operator
    low: float | None
    high: float | None
    clear_low: float | None
    clear_high: float | None
    hold_s: float

    def breaches(self, value: float) -> bool:
        """Whether ``value`` is beyond the limit."""
        if self.operator in ("above", "outside") and self.high is not None and value > self.high:
            return True
        return self.operator in ("below", "outside") and self.low is not None and value < self.low

    def clears(self, value: float) -> bool:
        """Whether ``value`` is back past the clear level (inside the band, with its margin)."""
        if self.operator in ("above", "outside"):
            level = self.clear_high if self.clear_high is not None else self.high
            if level is not None and value >= level:
                return False
        if self.operator in ("below", "outside"):
            level = self.clear_low if self.clear_low is not None else self.low
            if level is not None and value <= level:
                return False
        return True


@dataclass(frozen=True, slots=True)
class State:
    """One (rule, subject)'s evaluation state: newest reading seen, breach start, whether open."""

    last_time: float = -math.inf
    breach_since: float | None = None
    open: bool = False


def step(rule: Threshold, state: State, time: float, value: float) -> tuple[State, Decision]:
    """Feed one committed reading (epoch seconds, canonical value); the new state and the decision.

    Readings not newer than the newest seen (a redelivery, an out-of-order late reading) change
    nothing, so feeding the same readings twice decides the same once.
    """
    if time <= state.last_time or not math.isfinite(value):
        return state, Decision.NONE
    if state.open:
        if rule.clears(value):
            return State(last_time=time), Decision.RESOLVE
        return State(last_time=time, breach_since=state.breach_since, open=True), Decision.NONE
    if not rule.breaches(value):
        return State(last_time=time), Decision.NONE
    since = state.breach_since if state.breach_since is not None else time
    if time - since >= rule.hold_s:
        return State(last_time=time, breach_since=since, open=True), Decision.OPEN
    return State(last_time=time, breach_since=since), Decision.NONE


def silent(last_seen: float | None, created: float, now: float, duration_s: float) -> bool:
    """Whether a subject last heard at ``last_seen`` (never: since ``created``) is silent at ``now``."""
    reference = last_seen if last_seen is not None else created
    return now - reference > duration_s


def over_rate(rejections_last_hour: int, rate_per_hour: float) -> bool:
    """Whether a rejection count over the last hour is above the rule's limit."""
    return rejections_last_hour > rate_per_hour


def default_silence_s(reporting_interval_s: float) -> float:
    """The silence duration when a rule names none: three missed reports of the device's model."""
    return 3 * reporting_interval_s
