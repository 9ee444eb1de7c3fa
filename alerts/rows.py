"""The rows the alerts service returns: rules, alerts, their events, channels and deliveries.

Owns these frozen dataclasses (read through ``class_row``); ``alerts.service`` re-exports them, which
is where other packages name them (``service.RuleRow``). No queries here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class RuleRow:
    """One alert rule as stored."""

    id: int
    organisation_id: int
    organisation: str
    name_vi: str
    name_en: str
    kind: str
    severity: str
    scope_kind: str
    scope_value: str
    subject: str
    metric: str | None
    operator: str | None
    low: float | None
    high: float | None
    clear_low: float | None
    clear_high: float | None
    duration_s: float | None
    rate_per_hour: float | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert with its rule's names and its subject's external id."""

    id: int
    rule_id: int
    rule_vi: str
    rule_en: str
    kind: str
    organisation: str
    organisation_id: int
    subject_kind: str
    subject: str
    asset: str | None  # the subject's asset (a device's, or the asset itself): the map's marker
    sector: str | None
    area: str | None
    lat: float | None
    lon: float | None
    severity: str
    state: str
    value: float | None
    since: datetime
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolve_note: str | None


@dataclass(frozen=True, slots=True)
class EventRow:
    """One transition of an alert."""

    id: int
    alert_id: int
    at: datetime
    kind: str
    actor: str
    note: str


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One notification channel (the webhook secret is never read back)."""

    id: int
    organisation: str
    organisation_id: int
    kind: str
    target: str
    min_severity: str
    enabled: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One delivery attempt of a notification."""

    id: int
    outbox_id: int
    alert_id: int
    event: str
    at: datetime
    ok: bool
    status: int | None
    error: str | None
