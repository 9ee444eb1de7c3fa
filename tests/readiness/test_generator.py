"""The synthetic province, and the readiness figures agreeing with themselves over it."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from bench.province import DISTRICTS, generate
from hatang.settings import ReadinessSettings
from registry.readiness import service, snapshots
from registry.readiness.service import Report
from tests.plugins.readiness import run

SETTINGS = ReadinessSettings()
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)


def _counts(report: Report) -> dict[str, tuple[int, int, int]]:
    return {a.sector: (a.counts.essential, a.counts.equipped, a.counts.ready) for a in report.sectors}


@pytest.fixture
def province(db_url: str) -> str:
    with psycopg.connect(db_url) as conn:
        made = generate(conn, assets=2_000, devices=4_000, now=NOW, seed=7)
    assert (made.essential_assets, made.other_assets, made.devices) == (2_000, 200, 4_000)
    return db_url


def test_the_province_has_what_was_asked(province: str) -> None:
    with psycopg.connect(province) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE essential), count(*) FILTER (WHERE NOT essential) FROM assets"
        ).fetchone()
        assert row == (2_000, 200)
        devices = conn.execute("SELECT count(*), count(asset_id) FROM devices").fetchone()
        districts = conn.execute("SELECT count(*) FROM areas WHERE level = 'district'").fetchone()
    assert devices is not None
    assert devices[0] == 4_000
    assert 0 < devices[1] < 4_000
    assert districts == (len(DISTRICTS),)


def test_every_way_of_counting_agrees(province: str) -> None:
    whole = run(province, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW))
    # The province as an area goes through the per-asset query shape; no area through the grouped one.
    rooted = run(province, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, area="bac-ninh"))
    assert _counts(whole) == _counts(rooted)
    assert sum(c[0] for c in _counts(whole).values()) == 2_000
    ready = sum(a.counts.ready for a in whole.sectors)
    assert 0 < ready < 2_000
    # The districts add up to the province.
    by_district = [
        run(province, lambda conn, code=code: service.readiness(conn, settings=SETTINGS, now=NOW, area=code))  # type: ignore[misc]
        for code, _ in DISTRICTS
    ]
    for sector, counts in _counts(whole).items():
        summed = [_counts(r)[sector] for r in by_district]
        assert tuple(map(sum, zip(*summed, strict=True))) == counts
    # Every essential asset not ready has exactly one reason.
    gaps = run(province, lambda conn: service.gaps(conn, settings=SETTINGS, now=NOW, limit=1))
    assert sum(n for per_sector in gaps.summary.values() for n in per_sector.values()) == 2_000 - ready
    # The snapshot of the whole province holds the same figures.
    run(province, lambda conn: snapshots.take(conn, settings=SETTINGS, now=NOW))
    past = run(
        province,
        lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW.replace(day=30), at=NOW.date()),
    )
    assert _counts(past) == _counts(whole)
