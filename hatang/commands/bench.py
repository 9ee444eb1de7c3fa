"""``hatang bench NAME``: the benchmarks of ``bench``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from typing import Any

# Benchmark modules under bench.
BENCHMARKS: tuple[str, ...] = (
    "normalise", "storage", "ingest", "readiness", "streams", "onboarding", "alerts", "broker", "city",
    "seen",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench`` and one sub-subcommand per benchmark module."""
    register_only(subparsers, ())


def register_only(subparsers: argparse._SubParsersAction[Any], rest: Sequence[str]) -> None:
    """Add ``bench`` with only the benchmark ``rest`` names (every one when it names none)."""
    parser = subparsers.add_parser("bench", help="run a benchmark (prints JSON as its last line)")
    inner = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    named = rest[0] if rest and rest[0] in BENCHMARKS else None
    for name in BENCHMARKS:
        if named is not None and name != named:
            continue
        importlib.import_module(f"bench.{name}").register(inner)
