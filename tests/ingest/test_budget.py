"""The dead-letter budget (finding 9): per device and window, then a sample; pure."""

from __future__ import annotations

from ingest.budget import DeadLetterBudget


def test_a_device_stores_its_budget_then_one_in_sample() -> None:
    budget = DeadLetterBudget(budget=5, window_s=60, sample=10)
    stored = [budget.admit(7, 1000.0 + i / 1000) for i in range(200)]
    assert stored[:5] == [True] * 5
    assert sum(stored) == 5 + 19  # the 15th, 25th, ... 195th beyond the first five
    # Another device has a budget of its own; a topic stands for a device not yet known.
    assert all(budget.admit(8, 1000.5) for _ in range(5))
    assert all(budget.admit("city/v1/devices/x/telemetry", 1000.5) for _ in range(5))


def test_the_budget_comes_back_with_the_next_window() -> None:
    budget = DeadLetterBudget(budget=2, window_s=60, sample=1000)
    assert [budget.admit(1, 0.0) for _ in range(3)] == [True, True, False]
    assert [budget.admit(1, 60.0) for _ in range(3)] == [True, True, False]
