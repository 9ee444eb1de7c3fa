"""The yearly report as a bilingual HTML page (Jinja2, autoescaped) and CSV files.

Owns :func:`render_html` (the page: both clauses of the II.2 target, per sector and area, the zones,
the targets and their status, one SVG chart per series, the method and definitions) and
:func:`render_csv` (the data beside it). ``readiness.csv`` is the CSV ``hatang readiness --format
csv --at DAY`` prints for the same day (``registry.readiness.export``). Pure: a report in, text out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from registry.readiness import Assessment, Point, Target
from registry.readiness.export import AREAS_COLUMNS, sector_row, sectors_csv, to_csv, zones_csv
from registry.readiness.yearly import YearReport

# The zones' series beside the sectors' (whose names are data: the ``sectors`` rows).
ZONES_NAME = ("Các khu (IoT độ trễ thấp)", "Zones (low-latency IoT)")
STATUS_NAMES: dict[str, tuple[str, str]] = {
    "met": ("đạt", "met"),
    "on_track": ("đúng tiến độ", "on track"),
    "behind": ("chậm", "behind"),
    "missed": ("không đạt", "missed"),
    "no_assets": ("chưa có đối tượng", "none in scope"),
    "no_target": ("không có mục tiêu", "no target"),
}
REASON_NAMES: dict[str, tuple[str, str]] = {
    "no_device": ("chưa có thiết bị", "no device"),
    "silent": ("im lặng", "silent"),
    "unmeasured": ("chưa đo độ trễ", "not measured"),
    "slow": ("độ trễ cao", "slow"),
}
KIND_NAMES: dict[str, tuple[str, str]] = {
    "high_tech_zone": ("Khu công nghệ cao", "High-tech zone"),
    "it_park": ("Khu CNTT tập trung", "Concentrated IT park"),
    "research_centre": ("Trung tâm nghiên cứu", "Research centre"),
    "industrial_park": ("Khu công nghiệp", "Industrial park"),
}
HISTORY_COLUMNS = ("day", "series", "essential", "equipped", "ready", "ready_share")
# Chart geometry (SVG user units).
_W, _H, _PAD = 520.0, 150.0, 28.0


@dataclass(frozen=True, slots=True)
class Chart:
    """One series drawn as a polyline of ready share per day, with its target as a dashed line."""

    key: str
    points: str
    last_point: tuple[float, float] | None
    target_y: float | None
    first: date
    last: date
    days: int


@dataclass(frozen=True, slots=True)
class Files:
    """The report's files by name: the page and the CSVs (written by the command)."""

    html: str
    csv: dict[str, str]


def _name(table: dict[str, tuple[str, str]], key: str) -> tuple[str, str]:
    return table.get(key, (key, key))


def chart(key: str, points: list[Point], *, start: date, end: date, target: Target | None) -> Chart:
    """A chart of ``points`` over ``start``..``end`` (x by day, y by ready share 0..1)."""
    span = max((end - start).days, 1)

    def x(day: date) -> float:
        return _PAD + (_W - 2 * _PAD) * (day - start).days / span

    def y(share: float) -> float:
        return _H - _PAD - (_H - 2 * _PAD) * share

    xy = [
        (round(x(p.day), 1), round(y(p.counts.ready / p.counts.essential), 1))
        for p in points
        if p.counts.essential and start <= p.day <= end
    ]
    drawn = [f"{px},{py}" for px, py in xy]
    return Chart(
        key=key,
        points=" ".join(drawn),
        last_point=xy[-1] if xy else None,
        target_y=None if target is None else round(y(float(target.share)), 1),
        first=start,
        last=end,
        days=len(drawn),
    )


def _target_on(targets: list[Target], key: str, day: date) -> Target | None:
    mine = sorted((t for t in targets if t.sector == key), key=lambda t: t.deadline)
    return next((t for t in mine if t.deadline >= day), mine[-1] if mine else None)


def _environment(report: YearReport) -> Environment:
    names = {s.code: (s.name, s.name_en or s.name) for s in report.sectors} | {"zones": ZONES_NAME}
    env = Environment(
        loader=PackageLoader("hatang.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "—" if v is None else f"{100 * float(v):.1f}%"
    env.filters["num"] = lambda v: "—" if v is None else f"{v:,}".replace(",", " ")
    env.globals.update(
        inf=math.inf,
        sector=lambda k: _name(names, k),
        status=lambda k: _name(STATUS_NAMES, k),
        reason=lambda k: _name(REASON_NAMES, k or ""),
        kind=lambda k: _name(KIND_NAMES, k),
    )
    return env


def _totals(sectors: list[Assessment]) -> dict[str, Any]:
    essential = sum(a.counts.essential for a in sectors)
    ready = sum(a.counts.ready for a in sectors)
    return {
        "essential": essential,
        "equipped": sum(a.counts.equipped for a in sectors),
        "ready": ready,
        "ready_share": ready / essential if essential else None,
    }


def render_html(report: YearReport) -> str:
    """The bilingual page of ``report``."""
    start = date(report.year, 1, 1)
    charts = [
        chart(
            s.sector, s.points, start=start, end=report.as_of,
            target=_target_on(report.targets, s.sector, report.as_of),
        )
        for s in report.history.sectors
    ]  # fmt: skip
    charts.append(
        chart(
            "zones", report.zone_history, start=start, end=report.as_of,
            target=_target_on(report.zone_targets, "zones", report.as_of),
        )
    )  # fmt: skip
    return (
        _environment(report)
        .get_template("readiness.html.j2")
        .render(
            r=report,
            totals=_totals(report.province.sectors),
            charts=charts,
            chart_size={"w": _W, "h": _H, "pad": _PAD},
            window_h=report.province.freshness_window / timedelta(hours=1),
            csv_files=sorted(render_csv(report)),
        )
    )


def render_csv(report: YearReport) -> dict[str, str]:
    """The data beside the page, by file name."""
    areas = [
        {
            "area": a.code,
            **{k: v for k, v in sector_row(s).items() if k in AREAS_COLUMNS},
        }
        for a in report.areas
        for s in a.report.sectors
    ]
    history = [
        {
            "day": p.day.isoformat(),
            "series": s.sector,
            "essential": p.counts.essential,
            "equipped": p.counts.equipped,
            "ready": p.counts.ready,
            "ready_share": p.counts.ready / p.counts.essential if p.counts.essential else None,
        }
        for s in report.history.sectors
        for p in s.points
    ]
    history += [
        {
            "day": p.day.isoformat(),
            "series": "zones",
            "essential": p.counts.essential,
            "equipped": p.counts.equipped,
            "ready": p.counts.ready,
            "ready_share": p.counts.ready / p.counts.essential if p.counts.essential else None,
        }
        for p in report.zone_history
    ]
    files = {
        "readiness.csv": sectors_csv(report.province.sectors),
        "areas.csv": to_csv(areas, AREAS_COLUMNS),
        "history.csv": to_csv(sorted(history, key=lambda h: (h["day"], h["series"])), HISTORY_COLUMNS),
    }
    if report.zones is not None:
        files["zones.csv"] = zones_csv(report.zones.zones)
    return files
