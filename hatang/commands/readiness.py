"""``hatang readiness``: the plan's 40% target per sector in the terminal; ``snapshot`` takes the day's.

``hatang readiness [--area A] [--org O] [--at DATE] [--format table|json|csv]`` prints what
``GET /v1/readiness`` returns; ``hatang readiness gaps`` what ``/v1/readiness/gaps`` does.
``hatang readiness snapshot`` takes today's snapshot once (a cron job's command); with ``--every`` it
keeps refreshing it every ``HATANG_READINESS__SNAPSHOT_INTERVAL_S`` (what ``hatang run`` supervises).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import psycopg

from hatang.settings import Settings
from hatang.stack import Stack
from registry.readiness import GAP_REASONS, Gaps, ReadinessError, Report, service, snapshots, zones
from registry.readiness.export import sector_row, sectors_csv, zone_row, zones_csv
from registry.readiness.zones import ZoneReport

FORMATS = ("table", "json", "csv")


_T = TypeVar("_T")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``readiness`` with its ``gaps`` and ``snapshot`` actions."""
    parser = subparsers.add_parser("readiness", help="IoT readiness per sector against the plan's target")
    _scope_arguments(parser)
    parser.add_argument("--at", type=date.fromisoformat, default=None, help="a past day (YYYY-MM-DD)")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.set_defaults(func=_show)
    inner = parser.add_subparsers(dest="readiness_command", metavar="ACTION")
    gaps = inner.add_parser("gaps", help="essential assets not ready now, and why")
    _scope_arguments(gaps)
    gaps.add_argument("--sector", default=None)
    gaps.add_argument("--reason", choices=GAP_REASONS, default=None)
    gaps.add_argument("--limit", type=int, default=50, help="assets listed (default 50)")
    gaps.add_argument("--format", choices=FORMATS, default="table")
    gaps.set_defaults(func=_gaps)
    zones = inner.add_parser(
        "zones", help="low-latency IoT readiness of every zone (the plan's first clause)"
    )
    zones.add_argument("--at", type=date.fromisoformat, default=None, help="a past day (YYYY-MM-DD)")
    zones.add_argument("--format", choices=FORMATS, default="table")
    zones.set_defaults(func=_zones)
    snapshot = inner.add_parser("snapshot", help="take today's readiness snapshot (replaces today's)")
    snapshot.add_argument(
        "--every", action="store_true", help="keep refreshing it every HATANG_READINESS__SNAPSHOT_INTERVAL_S"
    )
    snapshot.set_defaults(func=_snapshot)


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--area", default=None, help="area code (its descendants included)")
    parser.add_argument("--org", default=None, help="organisation slug (the assets' owner)")


def render(report: Report, fmt: str) -> str:
    """The report as a table, JSON or CSV."""
    rows = [sector_row(a) for a in report.sectors]
    if fmt == "json":
        return json.dumps(
            {
                "as_of": report.as_of.isoformat(),
                "source": report.source,
                "area": report.area,
                "organisation": report.organisation,
                "freshness_window_h": report.freshness_window / timedelta(hours=1),
                "sectors": rows,
            },
            ensure_ascii=False,
        )
    if fmt == "csv":
        return sectors_csv(report.sectors)
    parts = (report.area and f"area {report.area}", report.organisation and f"org {report.organisation}")
    scope = ", ".join(p for p in parts if p) or "whole province"
    window_h = report.freshness_window / timedelta(hours=1)
    lines = [
        f"IoT readiness on {report.as_of.isoformat()} ({report.source}; {scope}; "
        f"ready = a fitting active device reported within {window_h:g} h)",
        f"{'sector':<12}{'essential':>10}{'equipped':>10}{'ready':>8}{'share':>8}{'target':>8}  "
        f"{'deadline':<11}{'status':<10}{'needed':>7}  projected",
    ]
    for r in rows:
        share = "-" if r["ready_share"] is None else f"{100 * r['ready_share']:.1f}%"
        target = "-" if r["target_share"] is None else f"{100 * float(r['target_share']):.0f}%"
        needed = "-" if r["still_needed"] is None else str(r["still_needed"])
        lines.append(
            f"{r['sector']:<12}{r['essential']:>10,}{r['equipped']:>10,}{r['ready']:>8,}{share:>8}"
            f"{target:>8}  {r['deadline'] or '-':<11}{r['status']:<10}{needed:>7}  {r['projected'] or '-'}"
        )
    return "\n".join(lines)


def render_gaps(found: Gaps, fmt: str) -> str:
    """Gaps as a table, JSON or CSV."""
    items = [
        {
            "asset": g.external_id,
            "sector": g.sector,
            "area": g.area,
            "organisation": g.organisation,
            "reason": g.reason,
            "devices": g.devices,
            "active_devices": g.active_devices,
            "fitting_devices": g.fitting_devices,
            "last_seen": None if g.last_seen is None else g.last_seen.isoformat(),
        }
        for g in found.items
    ]
    if fmt == "json":
        return json.dumps({"summary": found.summary, "items": items}, ensure_ascii=False)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(items[0]) if items else ["asset"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(items)
        return out.getvalue().rstrip("\n")
    lines = ["not ready, by reason:"]
    for reason, per_sector in found.summary.items():
        detail = ", ".join(f"{sector} {n:,}" for sector, n in per_sector.items())
        lines.append(f"  {reason:<18}{sum(per_sector.values()):>8,}  {detail}")
    lines.append("")
    for item in items:
        lines.append(
            f"{item['asset']:<24}{item['sector']:<12}{item['area']:<16}{item['reason']:<18}"
            f"{item['last_seen'] or ''}"
        )
    return "\n".join(lines)


async def _connect(settings: Settings) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(Stack.from_settings(settings).database_url, autocommit=True)


def _print(command: str, fetch: Coroutine[Any, Any, _T], show: Callable[[_T], str]) -> int:
    """Print what ``fetch`` returns through ``show``; a readiness or database error is exit 1."""
    try:
        print(show(asyncio.run(fetch)))
    except (ReadinessError, psycopg.Error) as exc:
        print(f"{command}: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> Report:
        async with await _connect(settings) as conn:
            return await service.readiness(
                conn, settings=settings.readiness, now=datetime.now(UTC), at=args.at, area=args.area,
                organisation=args.org,
            )  # fmt: skip

    return _print("hatang readiness", main(), lambda report: render(report, args.format))


def _gaps(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> Gaps:
        async with await _connect(settings) as conn:
            return await service.gaps(
                conn, settings=settings.readiness, now=datetime.now(UTC), limit=args.limit, area=args.area,
                organisation=args.org, sector=args.sector, reason=args.reason,
            )  # fmt: skip

    return _print("hatang readiness gaps", main(), lambda found: render_gaps(found, args.format))


def render_zones(report: ZoneReport, fmt: str) -> str:
    """Zone readiness as a table, JSON or CSV."""
    rows = [zone_row(z) for z in report.zones]
    a = report.assessment
    if fmt == "json":
        return json.dumps(
            {
                "as_of": report.as_of.isoformat(),
                "source": report.source,
                "freshness_window_h": report.freshness_window / timedelta(hours=1),
                "latency_bound_s": report.latency_bound_s,
                "quantile": str(report.quantile),
                "total": {
                    "zones": a.counts.essential, "equipped": a.counts.equipped, "ready": a.counts.ready,
                    "ready_share": a.ready_share, "status": a.status.value,
                    "target_share": None if a.target is None else str(a.target.share),
                    "deadline": None if a.target is None else a.target.deadline.isoformat(),
                },
                "zones": rows,
            },
            ensure_ascii=False,
        )  # fmt: skip
    if fmt == "csv":
        return zones_csv(report.zones)
    window_h = report.freshness_window / timedelta(hours=1)
    share = "-" if a.ready_share is None else f"{100 * a.ready_share:.0f}%"
    target = (
        "-" if a.target is None else f"{100 * float(a.target.share):.0f}% by {a.target.deadline.isoformat()}"
    )
    lines = [
        f"Low-latency IoT readiness of the zones on {report.as_of.isoformat()} ({report.source}; ready = a "
        f"device reported within {window_h:g} h and p{100 * float(report.quantile):g} delivery latency "
        f"<= {report.latency_bound_s:g} s)",
        f"counted zones {a.counts.essential}, ready {a.counts.ready} ({share}); "
        f"target {target}: {a.status.value}",
        f"{'zone':<24}{'kind':<17}{'counted':<9}{'active':>7}{'fresh':>7}{'messages':>10}"
        f"{'latency':>9}  ready",
    ]
    for r in rows:
        latency = "-" if r["latency_s"] is None else f"<={r['latency_s']:g}s"
        verdict = "yes" if r["ready"] else f"no ({r['reason']})"
        lines.append(
            f"{r['zone']:<24}{r['kind']:<17}{'yes' if r['in_target'] else 'no':<9}{r['active_devices']:>7}"
            f"{r['fresh_devices']:>7}{r['messages']:>10,}{latency:>9}  {verdict}"
        )
    return "\n".join(lines)


def _zones(args: argparse.Namespace, settings: Settings) -> int:
    async def main() -> ZoneReport:
        async with await _connect(settings) as conn:
            return await zones.zone_readiness(
                conn, settings=settings.readiness, now=datetime.now(UTC), at=args.at
            )

    try:
        print(render_zones(asyncio.run(main()), args.format))
    except (ReadinessError, psycopg.Error) as exc:
        print(f"hatang readiness zones: {str(exc).strip()}", file=sys.stderr)
        return 1
    return 0


def _report(taken: snapshots.Taken) -> None:
    print(
        f"readiness snapshot of {taken.day.isoformat()}: {taken.rows} rows in {taken.seconds:.2f} s",
        flush=True,
    )


def _snapshot(args: argparse.Namespace, settings: Settings) -> int:
    database_url = Stack.from_settings(settings).database_url
    if not args.every:

        async def once() -> snapshots.Taken:
            async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
                return await snapshots.take(conn, settings=settings.readiness, now=datetime.now(UTC))

        try:
            _report(asyncio.run(once()))
        except psycopg.Error as exc:
            print(f"hatang readiness snapshot: {str(exc).strip()}", file=sys.stderr)
            return 1
        return 0

    async def forever() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await snapshots.run(database_url, settings=settings.readiness, stop=stop, on_taken=_report)

    asyncio.run(forever())
    return 0
