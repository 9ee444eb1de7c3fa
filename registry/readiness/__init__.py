"""IoT readiness of essential infrastructure against the plan's targets (Kế hoạch 333/KH-UBND, II.2).

``core`` is the pure arithmetic (shares, assets still needed, pace, projection, status); ``queries``
the SQL; ``service`` the functions the API and the command line call; ``snapshots`` the daily job;
``generator`` a synthetic province for benchmarks. docs/readiness.md holds the definitions.
"""

from registry.readiness.cache import LiveCountsCache
from registry.readiness.core import SECTORS, Assessment, Counts, Point, Status, Target, assess
from registry.readiness.errors import (
    FutureDateError,
    InvalidCountsError,
    ReadinessError,
    SnapshotMissingError,
    TargetExistsError,
    TargetNotFoundError,
    UnknownAreaError,
    UnknownOrganisationError,
)

__all__ = [
    "SECTORS",
    "Assessment",
    "Counts",
    "FutureDateError",
    "InvalidCountsError",
    "LiveCountsCache",
    "Point",
    "ReadinessError",
    "SnapshotMissingError",
    "Status",
    "Target",
    "TargetExistsError",
    "TargetNotFoundError",
    "UnknownAreaError",
    "UnknownOrganisationError",
    "assess",
]
