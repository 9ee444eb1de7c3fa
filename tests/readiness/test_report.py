"""``hatang report readiness``: the yearly report's figures are the API's for the same day; the PDF opens."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from pypdf import PdfReader

from hatang.cli import build_parser
from hatang.settings import ReadinessSettings, Settings
from registry.readiness import snapshots
from registry.readiness.service import today
from tests.plugins.api import Keys
from tests.plugins.zones import ZoneWorld

CHROMIUM = "/usr/bin/chromium"


class _Rows(HTMLParser):
    """Every element's data-* attributes, by element, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, dict[str, str]]] = []
        self._area: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {k.removeprefix("data-"): v or "" for k, v in attrs if k.startswith("data-")}
        if tag == "tr" and "area" in data:
            self._area = data["area"]
        if tag == "td" and self._area is not None and "sector" in data:
            data["area"] = self._area
        if data:
            self.rows.append((tag, data))


def _cli(db_url: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(argv)
    code = args.func(args, Settings(database_url=SecretStr(db_url)))
    out, err = capsys.readouterr()
    return code, out, err


def _snapshot(db_url: str, at: datetime) -> None:
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            await snapshots.take(conn, settings=ReadinessSettings(), now=at)

    asyncio.run(main())


def _check_against_api(html: str, api_client: TestClient, keys: Keys, day: str) -> None:
    parser = _Rows()
    parser.feed(html)
    rows = parser.rows
    api = api_client.get("/v1/readiness", params={"at": day}, headers=keys["viewer_a"]).json()
    shown = {d["sector"]: d for tag, d in rows if tag == "tr" and "sector" in d}
    assert shown.keys() == {s["sector"] for s in api["sectors"]}
    for s in api["sectors"]:
        mine = shown[s["sector"]]
        assert (int(mine["essential"]), int(mine["equipped"]), int(mine["ready"]), mine["status"]) == (
            s["essential"], s["equipped"], s["ready"], s["status"],
        ), s["sector"]  # fmt: skip
    areas = {d["area"] for tag, d in rows if tag == "tr" and "area" in d}
    assert {"bac-ninh", "tu-son", "que-vo"} <= areas
    for area in areas:
        by_area = api_client.get(
            "/v1/readiness", params={"at": day, "area": area}, headers=keys["admin"]
        ).json()
        cells = {d["sector"]: d for tag, d in rows if tag == "td" and d.get("area") == area}
        assert {k: (int(v["ready"]), int(v["essential"])) for k, v in cells.items()} == {
            s["sector"]: (s["ready"], s["essential"]) for s in by_area["sectors"]
        }, area
    zones = api_client.get("/v1/readiness/zones", params={"at": day}, headers=keys["admin"]).json()
    total = next(d for tag, d in rows if d.get("series") == "zones")
    assert (int(total["ready"]), int(total["total"])) == (zones["total"]["ready"], zones["total"]["zones"])
    shown_zones = {d["zone"]: d["ready"] for tag, d in rows if tag == "tr" and "zone" in d}
    assert shown_zones == {z["code"]: str(z["ready"]).lower() for z in zones["zones"]}


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")
def test_this_years_report_equals_the_api_and_the_pdf_has_its_pages(
    zone_world: ZoneWorld,
    api_client: TestClient,
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url = zone_world.world.db_url
    now = datetime.now(UTC)
    _snapshot(db_url, now)  # today's snapshot: a point on each chart
    year = today(now=now, settings=ReadinessSettings()).year
    code, _, err = _cli(db_url, ["report", "readiness", "--year", str(year), "--out", str(tmp_path)], capsys)
    assert code == 0, err
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {
        f"readiness-{year}.html", f"readiness-{year}.pdf",
        "readiness.csv", "areas.csv", "zones.csv", "history.csv",
    }  # fmt: skip
    html = (tmp_path / f"readiness-{year}.html").read_text(encoding="utf-8")
    day = today(now=now, settings=ReadinessSettings()).isoformat()
    assert f'id="as-of">{day}<' in html
    _check_against_api(html, api_client, keys, day)
    # The CSV beside it is the command line's for the same day.
    code, cli_csv, _ = _cli(db_url, ["readiness", "--format", "csv"], capsys)
    assert (tmp_path / "readiness.csv").read_text(encoding="utf-8") == cli_csv
    code, cli_zones, _ = _cli(db_url, ["readiness", "zones", "--format", "csv"], capsys)
    assert (tmp_path / "zones.csv").read_text(encoding="utf-8") == cli_zones
    assert f"{day},zones,4,3,1," in (tmp_path / "history.csv").read_text(encoding="utf-8")
    pdf = PdfReader(tmp_path / f"readiness-{year}.pdf")
    assert len(pdf.pages) >= 4  # summary, areas and zones, history and targets, method
    first = pdf.pages[0].extract_text()
    assert f"năm {year}" in first
    assert "IoT infrastructure statistics" in first
    last = pdf.pages[-1].extract_text()
    assert "readiness.csv" in last


def test_a_past_year_comes_from_its_last_snapshot(
    zone_world: ZoneWorld,
    api_client: TestClient,
    keys: Keys,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db_url = zone_world.world.db_url
    _snapshot(db_url, datetime(2025, 12, 30, 5, 0, tzinfo=UTC))
    _snapshot(db_url, datetime(2025, 12, 31, 9, 0, tzinfo=UTC))  # 16:00 in Bắc Ninh: 31 December
    argv = ["report", "readiness", "--year", "2025", "--org", "so-gtvt", "--out", str(tmp_path), "--no-pdf"]
    code, out, err = _cli(db_url, argv, capsys)
    assert code == 0, err
    assert "as of 2025-12-31 (snapshot)" in out
    html = (tmp_path / "readiness-2025-so-gtvt.html").read_text(encoding="utf-8")
    parser = _Rows()
    parser.feed(html)
    api = api_client.get(
        "/v1/readiness", params={"at": "2025-12-31", "organisation": "so-gtvt"}, headers=keys["admin"]
    ).json()
    shown = {d["sector"]: int(d["ready"]) for tag, d in parser.rows if tag == "tr" and "sector" in d}
    assert shown == {s["sector"]: s["ready"] for s in api["sectors"]}
    code, cli_csv, _ = _cli(
        db_url, ["readiness", "--at", "2025-12-31", "--org", "so-gtvt", "--format", "csv"], capsys
    )
    assert (tmp_path / "readiness.csv").read_text(encoding="utf-8") == cli_csv
    history = (tmp_path / "history.csv").read_text(encoding="utf-8")
    assert "2025-12-30,transport," in history
    assert "2025-12-31,transport," in history
    # No snapshot in 2024, and the future: plain errors.
    for year in ("2024", str(datetime.now(UTC).year + 2)):
        code, _, err = _cli(db_url, ["report", "readiness", "--year", year, "--out", str(tmp_path)], capsys)
        assert code == 1
        assert err.startswith("hatang report readiness:")
