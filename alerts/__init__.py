"""Alerts: rules on readings, silence and rejections; one alert per problem; notifications that arrive.

The evaluator and notifier (``hatang alerts``, composed in ``alerts.runner``, measured by
``alerts.metrics``) read committed data only and write alerts through idempotent transitions; the API
manages rules, channels and alerts through ``alerts.service`` and streams events through
``alerts.events``. Other packages use what ``__all__`` lists. See docs/alerts.md.
"""

from __future__ import annotations

from alerts import events, metrics, runner, service
from alerts.core import Decision, State, Threshold, step
from alerts.lifecycle import Subject, open_alert, resolve_open, transition

__all__ = [
    "Decision",
    "State",
    "Subject",
    "Threshold",
    "events",
    "metrics",
    "open_alert",
    "resolve_open",
    "runner",
    "service",
    "step",
    "transition",
]
