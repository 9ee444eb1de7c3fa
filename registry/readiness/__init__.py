"""IoT readiness of essential infrastructure against the plan's targets (Kế hoạch 333/KH-UBND, II.2).

``core`` is the pure arithmetic (shares, assets still needed, pace, projection, status); ``queries``
the SQL; ``service`` the functions the API and the command line call; ``snapshots`` the daily job.
docs/readiness.md holds the definitions; the synthetic province of the benchmarks is ``bench.province``.
"""

from registry.readiness import service, snapshots
from registry.readiness.cache import LiveCountsCache
from registry.readiness.core import Assessment, Counts, Point, Status, Target, assess
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
from registry.readiness.queries import Gap
from registry.readiness.service import GAP_REASONS, GapReason, Gaps, Report

__all__ = [
    "GAP_REASONS",
    "Assessment",
    "Counts",
    "FutureDateError",
    "Gap",
    "GapReason",
    "Gaps",
    "InvalidCountsError",
    "LiveCountsCache",
    "Point",
    "ReadinessError",
    "Report",
    "SnapshotMissingError",
    "Status",
    "Target",
    "TargetExistsError",
    "TargetNotFoundError",
    "UnknownAreaError",
    "UnknownOrganisationError",
    "assess",
    "service",
    "snapshots",
]
