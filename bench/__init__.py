"""Benchmarks run by ``hatang bench NAME``: each prints a table and, last, one JSON line of figures.

Each module here exposes ``register(subparsers)`` like the command modules; ``hatang.commands.bench``
lists them. Benchmarks measure ratios side by side in one run; they are never pass/fail tests.
"""

# The benchmark modules ``hatang bench`` loads, and the shared parts other packages may use.
__all__ = [
    "alerts", "broker", "city", "cpu", "ingest", "normalise", "onboarding", "province", "readiness",
    "seen",
    "storage",
    "streams",
]  # fmt: skip
