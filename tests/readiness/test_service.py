"""Readiness against the hand-computed province (tests/plugins/readiness.py), on a real database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from hatang.settings import ReadinessSettings
from registry.audit import CLI
from registry.readiness import service, snapshots
from registry.readiness.core import Status
from registry.readiness.errors import (
    FutureDateError,
    SnapshotMissingError,
    TargetExistsError,
    TargetNotFoundError,
    UnknownAreaError,
    UnknownOrganisationError,
)
from registry.readiness.service import Report
from tests.plugins.readiness import EXPECTED, EXPECTED_GAPS, FRESH, NOW, World, run

SETTINGS = ReadinessSettings()
TODAY = date(2026, 11, 29)


def figures(report: Report) -> dict[str, tuple[int, int, int]]:
    return {
        a.sector: (a.counts.essential, a.counts.equipped, a.counts.ready)
        for a in report.sectors
        if a.counts.essential
    }


@pytest.mark.parametrize(("area", "organisation"), sorted(EXPECTED, key=str))
def test_live_figures_match_the_hand_computed_case(
    readiness_world: World, area: str | None, organisation: str | None
) -> None:
    report = run(
        readiness_world.db_url,
        lambda conn: service.readiness(
            conn, settings=SETTINGS, now=NOW, area=area, organisation=organisation
        ),
    )
    assert report.source == "live"
    assert report.as_of == TODAY
    assert figures(report) == EXPECTED[(area, organisation)]
    assert [a.sector for a in report.sectors] == ["transport", "energy", "electricity", "water", "urban"]


def test_status_needed_and_the_exact_boundary(readiness_world: World) -> None:
    report = run(readiness_world.db_url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW))
    by_sector = {a.sector: a for a in report.sectors}
    transport, water, energy = by_sector["transport"], by_sector["water"], by_sector["energy"]
    # 2 of 7 ready; 40% of 7 is 2.8, so 3 are required: one more, and the 2025 deadline has passed.
    assert (transport.required, transport.still_needed, transport.status) == (3, 1, Status.MISSED)
    assert transport.ready_share == pytest.approx(2 / 7)
    assert transport.target is not None
    assert (transport.target.share, transport.target.deadline) == (Decimal("0.4"), date(2025, 12, 31))
    # 2 of 5 is exactly 40.0%: met.
    assert (water.required, water.still_needed, water.status) == (2, 0, Status.MET)
    assert water.ready_share == pytest.approx(0.4)
    assert (energy.counts.essential, energy.status, energy.still_needed) == (0, Status.NO_ASSETS, 0)


def test_the_freshness_window_is_a_setting(readiness_world: World) -> None:
    # With a 96 h window the silent devices (3 days) count as reporting.
    wide = ReadinessSettings(freshness_window_h=96)
    report = run(readiness_world.db_url, lambda conn: service.readiness(conn, settings=wide, now=NOW))
    assert figures(report) == {"transport": (7, 4, 3), "water": (5, 3, 3)}


def test_unknown_scope_and_future_days_are_refused(readiness_world: World) -> None:
    url = readiness_world.db_url
    with pytest.raises(UnknownAreaError):
        run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, area="nowhere"))
    with pytest.raises(UnknownOrganisationError):
        run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, organisation="nobody"))
    tomorrow, yesterday = TODAY + timedelta(days=1), TODAY - timedelta(days=1)
    with pytest.raises(FutureDateError):
        run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, at=tomorrow))
    with pytest.raises(SnapshotMissingError):
        run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, at=yesterday))


def test_a_past_day_reads_its_snapshot_not_todays_state(readiness_world: World) -> None:
    url = readiness_world.db_url
    taken = run(url, lambda conn: snapshots.take(conn, settings=SETTINGS, now=NOW))
    assert taken.day == TODAY
    # The next day T1 gets a fresh fitting device: live figures change, the snapshot does not.
    with psycopg.connect(url) as conn:
        conn.execute(
            """
            WITH added AS (
                INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
                SELECT 'dev-new', m.id, a.organisation_id, a.id, 'active'
                FROM assets a, device_models m WHERE a.external_id = 'T1' AND m.model = 'loop-counter'
                RETURNING id
            )
            INSERT INTO device_seen (device_id, last_seen) SELECT id, %s FROM added
            """,
            (FRESH + timedelta(days=1),),
        )
    tomorrow = NOW + timedelta(days=1)
    for (area, org), expected in EXPECTED.items():
        past = run(
            url,
            lambda conn, area=area, org=org: service.readiness(  # type: ignore[misc]
                conn, settings=SETTINGS, now=tomorrow, at=TODAY, area=area, organisation=org
            ),
        )
        assert past.source == "snapshot"
        assert figures(past) == expected, (area, org)
    live = run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=tomorrow, area="dong-ngan"))
    # Tomorrow T4 is four days silent and T1's new device reports: 4 essential, 2 equipped, 1 ready.
    assert figures(live) == {"transport": (4, 2, 1)}


def test_the_snapshot_job_replaces_the_days_rows(readiness_world: World) -> None:
    url = readiness_world.db_url
    first = run(url, lambda conn: snapshots.take(conn, settings=SETTINGS, now=NOW))
    again = run(url, lambda conn: snapshots.take(conn, settings=SETTINGS, now=NOW + timedelta(hours=2)))
    assert first.rows == again.rows > 0
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), max(taken_at) FROM readiness_snapshots").fetchone()
    assert row == (first.rows, NOW + timedelta(hours=2))


def test_days_are_the_provinces_calendar_days(readiness_world: World) -> None:
    # 18:30 UTC on the 29th is already the 30th in Bắc Ninh.
    late = NOW.replace(hour=18, minute=30)
    taken = run(readiness_world.db_url, lambda conn: snapshots.take(conn, settings=SETTINGS, now=late))
    assert taken.day == date(2026, 11, 30)


def _insert_series(url: str, rows: list[tuple[date, str, int, int, int]]) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO readiness_snapshots (day, sector, area_id, organisation_id,
                essential, equipped, ready, freshness_window, taken_at)
            VALUES (%s, %s, NULL, NULL, %s, %s, %s, interval '24 hours', now())
            """,
            rows,
        )


def test_history_series_and_projection_toward_a_later_target(readiness_world: World) -> None:
    url = readiness_world.db_url
    # Urban: 100 essential assets, 10 more ready each day from 10 to 30 over 21-23 November.
    start = date(2026, 11, 21)
    _insert_series(url, [(start + timedelta(days=k), "urban", 100, 60, 10 + 10 * k) for k in range(3)])
    run(
        url,
        lambda conn: service.create_target(
            conn, actor=CLI, sector="urban", share=Decimal("0.5"), deadline=date(2026, 12, 31), source="test"
        ),
    )
    found = run(url, lambda conn: service.history(conn, settings=SETTINGS, start=start, end=TODAY))
    urban = next(s for s in found.sectors if s.sector == "urban")
    assert [(p.day, p.counts.ready) for p in urban.points] == [
        (date(2026, 11, 21), 10), (date(2026, 11, 22), 20), (date(2026, 11, 23), 30),
    ]  # fmt: skip
    latest = urban.latest
    assert latest is not None
    assert latest.as_of == date(2026, 11, 23)
    assert latest.pace_per_day == pytest.approx(0.1)
    # 20 points to go at 10 a day: 25 November, before the 31 December deadline.
    assert latest.projected == date(2026, 11, 25)
    assert latest.status is Status.ON_TRACK
    assert next(s for s in found.sectors if s.sector == "energy").latest is None
    # Readiness now uses those snapshots as its history: today's live urban figures are 0 of 0.
    report = run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW))
    assert next(a for a in report.sectors if a.sector == "urban").status is Status.NO_ASSETS


def test_gaps_grouped_by_reason_and_paginated(readiness_world: World) -> None:
    url = readiness_world.db_url
    result = run(url, lambda conn: service.gaps(conn, settings=SETTINGS, now=NOW, limit=3))
    assert result.summary == {
        "no_device": {"transport": 1, "water": 1},
        "device_not_active": {"transport": 1, "water": 1},
        "wrong_sector": {"transport": 1},
        "never_reported": {"transport": 1},
        "silent": {"transport": 1, "water": 1},
    }
    seen = {gap.external_id: gap.reason for gap in result.items}
    after = result.next_after
    while after is not None:
        page = run(
            url,
            lambda conn, after=after: service.gaps(  # type: ignore[misc]
                conn, settings=SETTINGS, now=NOW, limit=3, after=after
            ),
        )
        seen.update({gap.external_id: gap.reason for gap in page.items})
        after = page.next_after
    assert seen == EXPECTED_GAPS
    silent = run(
        url,
        lambda conn: service.gaps(conn, settings=SETTINGS, now=NOW, limit=10, reason="silent", area="tu-son"),
    )
    assert [(g.external_id, g.last_seen) for g in silent.items] == [("T4", NOW - timedelta(days=3))]
    assert silent.summary == {"silent": {"transport": 1}}
    assert silent.next_after is None


def test_targets_are_data_an_admin_changes(readiness_world: World) -> None:
    url = readiness_world.db_url
    seeded = run(url, service.targets)
    plan = ("transport", "energy", "electricity", "water", "urban")
    assert {(t.sector, t.share, t.deadline) for t in seeded} == {
        (s, Decimal("0.4000"), date(2025, 12, 31)) for s in plan
    }
    with pytest.raises(TargetExistsError):
        run(url, lambda conn: service.create_target(
            conn, actor=CLI, sector="water", share=Decimal("0.5"), deadline=date(2025, 12, 31)
        ))  # fmt: skip
    changed = run(url, lambda conn: service.update_target(
        conn, actor=CLI, sector="transport", deadline=date(2025, 12, 31), share=Decimal("0.25")
    ))  # fmt: skip
    assert changed.share == Decimal("0.25")
    with pytest.raises(TargetNotFoundError):
        run(url, lambda conn: service.update_target(
            conn, actor=CLI, sector="transport", deadline=date(2030, 1, 1), share=Decimal("0.5")
        ))  # fmt: skip
    # 2 of 7 ready meets 25% (ceil(1.75) = 2).
    report = run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW))
    assert next(a for a in report.sectors if a.sector == "transport").status is Status.MET
    with psycopg.connect(url) as conn:
        audited = conn.execute("SELECT action, entity, entity_id FROM audit_log ORDER BY id").fetchall()
    assert audited == [("update", "readiness_target", "transport/2025-12-31")]


def test_readiness_never_touches_the_readings_hypertable(readiness_world: World) -> None:
    url = readiness_world.db_url
    with psycopg.connect(url, autocommit=True) as conn:
        # A reading in a chunk, so a scan would show in the statistics.
        conn.execute(
            "INSERT INTO metrics (name, unit, sector) VALUES ('flow', 'm3/h', 'water');"
            "INSERT INTO readings SELECT now(), d.id, m.id, 1.0 FROM devices d, metrics m LIMIT 1"
        )
        before = _readings_scans(conn)
    run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW, area="tu-son"))
    run(url, lambda conn: service.readiness(conn, settings=SETTINGS, now=NOW))
    run(url, lambda conn: service.gaps(conn, settings=SETTINGS, now=NOW, limit=50))
    run(url, lambda conn: snapshots.take(conn, settings=SETTINGS, now=NOW))
    with psycopg.connect(url, autocommit=True) as conn:
        assert _readings_scans(conn) == before


def _readings_scans(conn: psycopg.Connection[Any]) -> int:
    """Sequential and index scans of ``readings`` and its chunks, flushed to the statistics views."""
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        """
        SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0)
        FROM pg_stat_user_tables t
        WHERE t.relname = 'readings'
           OR t.relid IN (SELECT format('%I.%I', chunk_schema, chunk_name)::regclass
                          FROM timescaledb_information.chunks WHERE hypertable_name = 'readings')
        """
    ).fetchone()
    assert row is not None
    return int(row[0])
