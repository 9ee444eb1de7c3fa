"""Every test here clones the template database: make cloning race-free first."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _quiet_template(quiet_template: None) -> None:
    """See ``tests.plugins.readiness.quiet_template`` (TimescaleDB's scheduler holds the template)."""
