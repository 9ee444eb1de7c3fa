"""The ingest benchmark's arithmetic: CPU per message, the CPU budget, quantiles. Pure functions."""

from __future__ import annotations

import os


def per_message_us(cpu: dict[str, float], messages: int) -> dict[str, float]:
    """CPU microseconds per message of each process group of a phase."""
    return {name: round(s * 1e6 / messages, 2) for name, s in cpu.items()}


RATIO_GOAL = 0.7  # issue 5's goal for ratio_single_vs_bare on a 2-core machine


def cpu_budget(
    bare: dict[str, float],
    single: dict[str, float],
    bare_rate: float,
    cores: int | None = None,
) -> dict[str, float] | None:
    """What the measured CPU costs allow hatang's own work per message (docs/ingest.md, "Speed").

    B: the bare subscriber's CPU per message (receiving and acknowledging, which the worker does
    too); M: the broker's, the cheaper of the two phases; P: PostgreSQL's for the worker. A worker
    costing W per message drains at most ``min(1 / W, cores / (W + M + P))`` messages a second
    (one process, one core; every process shares the cores). ``ratio_ceiling`` is that bound's
    ratio to (b) with W = B, as if hatang's own work were free; ``own_budget_us`` is the most
    ``W - B`` may be for the goal ratio; ``own_us`` is what it is. None without the broker's and
    the database's figures (external services).
    """
    if "mosquitto" not in bare or "mosquitto" not in single:
        return None
    b, w = bare["subscriber"], single["worker"]
    m, p = min(bare["mosquitto"], single["mosquitto"]), single["postgresql"]
    cores = cores or len(os.sched_getaffinity(0))
    ceiling = min(1 / b, cores / (b + m + p)) * 1e6 / bare_rate
    target = RATIO_GOAL * bare_rate / 1e6  # messages per µs
    budget = min(1 / target, (cores / target) - m - p) - b
    return {
        "cores": cores,
        "ratio_ceiling": round(ceiling, 3),
        "own_us": round(w - b, 2),
        "own_budget_us": round(budget, 2),
    }


def bucket_quantile(cumulative: dict[float, float], q: float) -> float:
    """The upper bound of the histogram bucket holding quantile ``q`` (worker's own lag metric)."""
    total = max(cumulative.values(), default=0.0)
    for bound, count in cumulative.items():
        if total and count >= q * total:
            return bound
    return float("nan")


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

