"""``hatang bench NAME``: the benchmarks of ``bench``."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

# Benchmark modules under bench.
BENCHMARKS: tuple[str, ...] = (
    "normalise", "storage", "ingest", "readiness", "streams", "onboarding", "alerts", "broker", "city",
)  # fmt: skip


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench`` and one sub-subcommand per benchmark module."""
    parser = subparsers.add_parser("bench", help="run a benchmark (prints JSON as its last line)")
    inner = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    for name in BENCHMARKS:
        importlib.import_module(f"bench.{name}").register(inner)
