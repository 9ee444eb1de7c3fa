"""``hatang report readiness``: the year's published statistics (Kế hoạch 333/KH-UBND, IV.5.b).

``hatang report readiness --year 2025 [--org SLUG] --out DIR [--no-pdf]`` gathers the year's figures
(``registry.readiness.yearly``: as of today for the current year, else the year's last snapshot
day), and writes ``DIR/readiness-<year>[-<org>].html``, the same as PDF (printed by the system
Chromium) and the data as CSV (``readiness.csv``, ``areas.csv``, ``zones.csv``, ``history.csv``)
beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from hatang.report import PdfError, print_pdf, render_csv, render_html
from hatang.settings import Settings
from hatang.stack import Stack
from registry.readiness import ReadinessError, yearly


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``report`` with its ``readiness`` action."""
    parser = subparsers.add_parser("report", help="published statistics: the yearly readiness report")
    inner = parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    readiness = inner.add_parser("readiness", help="the year's IoT readiness report (HTML, PDF, CSV)")
    readiness.add_argument("--year", type=int, required=True, help="the year (e.g. 2025)")
    readiness.add_argument("--org", default=None, help="organisation slug (the assets' owner)")
    readiness.add_argument("--out", type=Path, required=True, help="directory to write the files into")
    readiness.add_argument("--no-pdf", action="store_true", help="HTML and CSV only")
    readiness.set_defaults(func=_readiness)


def write(report: yearly.YearReport, out: Path, *, pdf: bool, chromium: str) -> list[Path]:
    """Write the report's files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"readiness-{report.year}" + (f"-{report.organisation}" if report.organisation else "")
    html = out / f"{stem}.html"
    html.write_text(render_html(report), encoding="utf-8")
    written = [html]
    for name, text in render_csv(report).items():
        path = out / name
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    if pdf:
        path = out / f"{stem}.pdf"
        print_pdf(html, path, chromium=chromium)
        written.append(path)
    return written


def _readiness(args: argparse.Namespace, settings: Settings) -> int:
    async def gather() -> yearly.YearReport:
        url = Stack.from_settings(settings).database_url
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            now = datetime.now(UTC)
            return await yearly.gather(
                conn, settings=settings.readiness, now=now, year=args.year, organisation=args.org
            )

    try:
        report = asyncio.run(gather())
        files = write(report, args.out, pdf=not args.no_pdf, chromium=settings.report.chromium)
    except (ReadinessError, psycopg.Error, PdfError, OSError) as exc:
        print(f"hatang report readiness: {str(exc).strip()}", file=sys.stderr)
        return 1
    print(f"readiness report {report.year} as of {report.as_of.isoformat()} ({report.province.source}):")
    for path in files:
        print(f"  {path}")
    return 0
