"""What rules apply to: the in-memory index of devices and rules the evaluator matches readings with.

Owns :class:`Device` (a device with everything a scope can name: organisation, asset, model,
sector, the area and its ancestors), :class:`Rule` (one row of ``alert_rules``, typed) and
:class:`RuleIndex` (rules by metric and scope key, so a reading finds its rules with a handful of
dictionary lookups, whatever the number of rules). Pure: built from rows, never queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from alerts.core import Operator, Threshold, default_silence_s


@dataclass(frozen=True, slots=True)
class Device:
    """A device as scopes see it (external ids, since rules name things by them)."""

    id: int
    external_id: str
    organisation_id: int
    organisation: str
    asset_id: int | None
    asset: str | None
    model: str
    sector: str
    area_id: int | None
    areas: tuple[str, ...]  # its area's code and every ancestor's
    reporting_interval_s: float
    lat: float | None = None
    lon: float | None = None

    def scopes(self) -> Iterator[tuple[str, str]]:
        """Every (scope kind, scope value) this device falls under."""
        yield "device", self.external_id
        if self.asset is not None:
            yield "asset", self.asset
        yield "model", self.model
        yield "sector", self.sector
        for code in self.areas:
            yield "area", code
        yield "organisation", self.organisation


@dataclass(frozen=True, slots=True)
class Rule:
    """One enabled alert rule."""

    id: int
    organisation_id: int
    kind: str
    severity: str
    scope_kind: str
    scope_value: str
    subject: str
    metric: str | None = None
    operator: Operator | None = None
    low: float | None = None
    high: float | None = None
    clear_low: float | None = None
    clear_high: float | None = None
    duration_s: float | None = None
    rate_per_hour: float | None = None

    @property
    def threshold(self) -> Threshold:
        """The threshold arithmetic of a threshold rule."""
        assert self.operator is not None
        return Threshold(
            operator=self.operator, low=self.low, high=self.high, clear_low=self.clear_low,
            clear_high=self.clear_high, hold_s=self.duration_s or 0.0,
        )  # fmt: skip

    def silence_s(self, device: Device) -> float:
        """The silence duration of this rule for ``device``."""
        if self.duration_s is not None:
            return self.duration_s
        return default_silence_s(device.reporting_interval_s)

    def covers(self, device: Device) -> bool:
        """Whether ``device`` is in this rule's scope (and its organisation's)."""
        return device.organisation_id == self.organisation_id and (self.scope_kind, self.scope_value) in set(
            device.scopes()
        )


@dataclass
class RuleIndex:
    """Threshold rules by (metric, scope kind, scope value); silence and rate rules as lists."""

    by_key: dict[tuple[str, str, str], list[Rule]] = field(default_factory=lambda: defaultdict(list))
    silence: list[Rule] = field(default_factory=list)
    rate: list[Rule] = field(default_factory=list)
    metrics: set[str] = field(default_factory=set)
    max_hold_s: float = 0.0
    count: int = 0

    @classmethod
    def of(cls, rules: Iterable[Rule]) -> RuleIndex:
        """The index of ``rules``."""
        index = cls()
        for rule in rules:
            index.count += 1
            if rule.kind == "threshold" and rule.metric is not None:
                index.by_key[(rule.metric, rule.scope_kind, rule.scope_value)].append(rule)
                index.metrics.add(rule.metric)
                index.max_hold_s = max(index.max_hold_s, rule.duration_s or 0.0)
            elif rule.kind == "silence":
                index.silence.append(rule)
            elif rule.kind == "rejection_rate":
                index.rate.append(rule)
        return index

    def threshold_rules(self, device: Device, metric: str) -> list[Rule]:
        """The threshold rules on ``metric`` that cover ``device``."""
        found: list[Rule] = []
        by_key = self.by_key
        for kind, value in device.scopes():
            rules = by_key.get((metric, kind, value))
            if rules:
                found.extend(r for r in rules if r.organisation_id == device.organisation_id)
        return found
