"""Fixtures of the firmware_contracts tests: the shipped models, compiled once per session."""

from __future__ import annotations

import pytest

from firmware_contracts import CompiledModel, DeviceModel, Limits, compile_model, load_models

# A receive time well inside the examples' era (2025-06-01T00:00:00Z).
RECEIVED_AT = 1_748_736_000.0


@pytest.fixture(scope="session")
def models() -> dict[tuple[str, int], DeviceModel]:
    return load_models()


@pytest.fixture(scope="session")
def compiled(models: dict[tuple[str, int], DeviceModel]) -> dict[str, CompiledModel]:
    """Every shipped model compiled with default limits, by id."""
    return {model.id: compile_model(model, Limits()) for model in models.values()}
