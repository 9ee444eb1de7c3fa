"""``hatang bench normalise``: throughput of the normaliser beside bare ``orjson.loads``.

Measures, on one core and in the same run, messages/s and readings/s of
:func:`firmware_contracts.normalise` for native single-reading messages and for 20-record SenML
packs, and of ``orjson.loads`` on the very same bytes; the ratios are what to watch (goal:
``ratio_native`` >= 0.35). Prints a table, then one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from firmware_contracts import compile_model, encode_native, encode_senml, load_models, normalise
from hatang.settings import Settings

# A model whose native message may carry a single reading (its other fields are optional).
_MODEL = ("pressurelog-pl20", 1)
_BASE_TIME = 1_748_736_000.0
_METRIC = "water_pressure"


def _rates(
    first: Callable[[], object], second: Callable[[], object], count: int, seconds: float
) -> tuple[float, float]:
    """Messages per second of two runs over ``count`` messages each, best of interleaved rounds.

    Interleaving puts both under the same load when the machine is shared, so their ratio holds
    even when the absolute figures wander.
    """
    best = [float("inf"), float("inf")]
    deadline = time.perf_counter() + 2 * seconds
    while True:
        for i, run in enumerate((first, second)):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
        if time.perf_counter() > deadline:
            return count / best[0], count / best[1]


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def measure(seconds: float = 1.0, messages: int = 2000, pack_size: int = 20) -> dict[str, Any]:
    """Run the benchmark; returns the figures of the JSON line."""
    _pin_one_core()
    compiled = compile_model(load_models()[_MODEL])
    received_at = _BASE_TIME + 3600
    native = [
        encode_native(compiled, _BASE_TIME + i, {_METRIC: 2.0 + (i % 50) / 10}) for i in range(messages)
    ]
    packs = [
        encode_senml(
            compiled,
            [(_BASE_TIME + 30 * j, _METRIC, 2.0 + (i + j) % 50 / 10) for j in range(pack_size)],
            base_name=f"pl20-{i:04d}:",
        )
        for i in range(messages // 10)
    ]
    assert all(len(normalise(p, received_at, compiled).readings) == 1 for p in native)
    assert all(len(normalise(p, received_at, compiled).readings) == pack_size for p in packs)

    def run_normalise(batch: list[bytes]) -> Callable[[], object]:
        return lambda: [normalise(p, received_at, compiled) for p in batch]

    def run_orjson(batch: list[bytes]) -> Callable[[], object]:
        loads = orjson.loads
        return lambda: [loads(p) for p in batch]

    gc.collect()
    gc.disable()
    try:
        figures: dict[str, float] = {}
        for name, batch, per_message in (("native", native, 1), ("senml", packs, pack_size)):
            norm, bare = _rates(run_normalise(batch), run_orjson(batch), len(batch), seconds)
            figures[f"normalise_{name}_msgs_s"] = round(norm)
            figures[f"normalise_{name}_readings_s"] = round(norm * per_message)
            figures[f"orjson_{name}_msgs_s"] = round(bare)
            figures[f"ratio_{name}"] = round(norm / bare, 3)
            figures[f"{name}_bytes"] = round(sum(map(len, batch)) / len(batch))
    finally:
        gc.enable()
    return {"benchmark": "normalise", "model": f"{_MODEL[0]} v{_MODEL[1]}", "pack_size": pack_size, **figures}


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the table and the JSON line."""
    del settings  # the limits do not change the figures; default ones are used
    result = measure(seconds=args.seconds)
    header = ("payload", "bytes", "normalise msg/s", "readings/s", "orjson msg/s", "ratio")
    print(f"{header[0]:<8} {header[1]:>6} {header[2]:>16} {header[3]:>12} {header[4]:>13} {header[5]:>6}")
    for name in ("native", "senml"):
        print(
            f"{name:<8} {result[f'{name}_bytes']:>6} {result[f'normalise_{name}_msgs_s']:>16,} "
            f"{result[f'normalise_{name}_readings_s']:>12,} {result[f'orjson_{name}_msgs_s']:>13,} "
            f"{result[f'ratio_{name}']:>6.3f}"
        )
    print(json.dumps(result))
    return 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``normalise`` to ``hatang bench``."""
    parser = subparsers.add_parser("normalise", help="normaliser throughput beside orjson.loads")
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent per measurement")
    parser.set_defaults(func=run)
