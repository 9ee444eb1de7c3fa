"""IoT readiness of essential infrastructure against the plan's targets (Kế hoạch 333/KH-UBND, II.2).

``core`` is the pure arithmetic (shares, assets still needed, pace, projection, status); ``queries``
the SQL; ``service`` the functions the API and the command line call; ``snapshots`` the daily job.
The zones (the plan's first clause): ``latency`` the pure low-latency rule, ``zones`` its SQL and
service. ``export`` the flat rows and CSV everyone shares, ``yearly`` the year's published figures,
``public`` what open data may show of single assets. docs/readiness.md holds the definitions; the
synthetic province of the benchmarks is ``bench.province``.
"""

from registry.readiness import export, latency, public, service, snapshots, yearly, zones
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
    "export",
    "latency",
    "public",
    "service",
    "snapshots",
    "yearly",
    "zones",
]
