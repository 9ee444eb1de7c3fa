"""A synthetic province for readiness at scale: areas, organisations, essential assets and devices.

Owns ``generate``: in an (empty, migrated) database it writes Bắc Ninh's 2023 districts with their
communes, one operator per sector, ``assets`` essential assets (plus a tenth as many non-essential
ones) and ``devices`` devices attached with the mix readiness distinguishes (none, inactive, wrong
sector, silent, never reported, fresh), using the package's real device models. Bulk writes use COPY;
the same seed gives the same province. It writes no readings: readiness never reads them. For
benchmarks and demos only — never point it at a database holding real data.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from registry import sync_contracts

# The province's district-level units in 2023 (the plan's geography), before the 2025 merger.
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("tp-bac-ninh", "Thành phố Bắc Ninh"),
    ("tu-son", "Thành phố Từ Sơn"),
    ("que-vo", "Thị xã Quế Võ"),
    ("thuan-thanh", "Thị xã Thuận Thành"),
    ("yen-phong", "Huyện Yên Phong"),
    ("tien-du", "Huyện Tiên Du"),
    ("gia-binh", "Huyện Gia Bình"),
    ("luong-tai", "Huyện Lương Tài"),
)
COMMUNES_PER_DISTRICT = 16

# Share of essential assets per sector, and one operator per sector.
SECTOR_SHARE = {"transport": 0.30, "energy": 0.10, "electricity": 0.25, "water": 0.20, "urban": 0.15}
OPERATORS = {
    "transport": ("so-gtvt", "Sở Giao thông Vận tải"),
    "energy": ("nang-luong", "Năng lượng tái tạo Bắc Ninh"),
    "electricity": ("evn-bac-ninh", "Công ty Điện lực Bắc Ninh"),
    "water": ("cap-nuoc", "Công ty Cấp thoát nước Bắc Ninh"),
    "urban": ("so-xay-dung", "Sở Xây dựng"),
}
KINDS = {
    "transport": ("intersection", "road_segment", "bridge"),
    "energy": ("solar_plant", "substation_battery"),
    "electricity": ("transformer", "feeder"),
    "water": ("pumping_station", "reservoir", "pipe_segment"),
    "urban": ("street_light", "drainage", "park"),
}
# What each essential asset has, with these weights (docs/readiness.md lists the cases).
PROFILE = {
    "fresh": 0.38,  # fitting active device(s), at least one reporting within the day
    "silent": 0.12,  # fitting active device(s), all silent for days
    "never": 0.04,  # fitting active device, never reported
    "inactive": 0.08,  # devices, none active
    "wrong_sector": 0.04,  # only an active device of another sector's model
    "none": 0.34,  # nothing yet
}


@dataclass(frozen=True, slots=True)
class Generated:
    """What ``generate`` wrote."""

    essential_assets: int
    other_assets: int
    devices: int
    areas: int
    organisations: int
    seconds: float


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def generate(
    conn: psycopg.Connection[Any], *, assets: int, devices: int, now: datetime, seed: int = 333
) -> Generated:
    """Fill the (empty, migrated) database of ``conn`` with a synthetic province; one transaction.

    ``devices`` is the total: those the asset profiles attach, the rest unattached stock
    (provisioned, on no asset). Device reports are timed relative to ``now``.
    """
    started = time.perf_counter()
    rng = random.Random(seed)
    sync_contracts(conn)
    with conn.transaction():
        models: dict[str, list[int]] = {sector: [] for sector in SECTOR_SHARE}
        for model_id, sector in conn.execute("SELECT id, sector FROM device_models ORDER BY id").fetchall():
            models[sector].append(model_id)
        missing = [sector for sector, ids in models.items() if not ids]
        if missing:
            raise ValueError(f"no device model for sector(s) {', '.join(missing)}")
        orgs = {}
        for sector, (slug, name) in OPERATORS.items():
            row = conn.execute(
                "INSERT INTO organisations (slug, name) VALUES (%s, %s) RETURNING id", (slug, name)
            ).fetchone()
            assert row is not None
            orgs[sector] = row[0]
        communes = _areas(conn)
        essential_ids, other = _assets(conn, rng, assets=assets, communes=communes, orgs=orgs)
        written = _devices(conn, rng, assets=essential_ids, total=devices, models=models, orgs=orgs, now=now)
    conn.execute("ANALYZE areas, assets, devices, device_models, device_seen")
    return Generated(
        essential_assets=len(essential_ids),
        other_assets=other,
        devices=written,
        areas=1 + len(DISTRICTS) + len(communes),
        organisations=len(orgs),
        seconds=time.perf_counter() - started,
    )


def _areas(conn: psycopg.Connection[Any]) -> list[int]:
    """The province, its districts and their communes; returns the communes' ids."""
    row = conn.execute(
        "INSERT INTO areas (code, name, level) VALUES ('bac-ninh', 'Tỉnh Bắc Ninh', 'province') RETURNING id"
    ).fetchone()
    assert row is not None
    communes = []
    for code, name in DISTRICTS:
        district = conn.execute(
            "INSERT INTO areas (code, name, level, parent_id) VALUES (%s, %s, 'district', %s) RETURNING id",
            (code, name, row[0]),
        ).fetchone()
        assert district is not None
        for k in range(1, COMMUNES_PER_DISTRICT + 1):
            commune = conn.execute(
                "INSERT INTO areas (code, name, level, parent_id)"
                " VALUES (%s, %s, 'commune', %s) RETURNING id",
                (f"{code}-{k:02d}", f"{name}, xã/phường {k}", district[0]),
            ).fetchone()
            assert commune is not None
            communes.append(commune[0])
    return communes


def _assets(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    *,
    assets: int,
    communes: list[int],
    orgs: dict[str, int],
) -> tuple[list[tuple[int, str, str]], int]:
    """COPY the assets; returns (id, sector, profile) of the essential ones and the count of others."""
    others = assets // 10
    plan: list[tuple[str, str, bool]] = []
    with conn.cursor() as cur:
        with cur.copy(
            "COPY assets (external_id, organisation_id, area_id, sector, kind, name, lat, lon, essential)"
            " FROM STDIN"
        ) as copy:
            for i in range(assets + others):
                essential = i < assets
                sector = _weighted(rng, SECTOR_SHARE)
                profile = _weighted(rng, PROFILE) if essential else "none"
                external_id = f"gen-{sector[:3]}-{i:07d}"
                plan.append((external_id, profile, essential))
                copy.write_row(
                    (
                        external_id,
                        orgs[sector],
                        rng.choice(communes),
                        sector,
                        rng.choice(KINDS[sector]),
                        f"{sector} asset {i}",
                        21.0 + rng.random() * 0.4,
                        105.9 + rng.random() * 0.5,
                        essential,
                    )
                )
        profiles = {external_id: profile for external_id, profile, essential in plan if essential}
        cur.execute("SELECT id, external_id, sector FROM assets WHERE essential ORDER BY id")
        essential_ids = [(row[0], row[2], profiles[row[1]]) for row in cur.fetchall()]
    return essential_ids, others


def _devices(
    conn: psycopg.Connection[Any],
    rng: random.Random,
    *,
    assets: list[tuple[int, str, str]],
    total: int,
    models: dict[str, list[int]],
    orgs: dict[str, int],
    now: datetime,
) -> int:
    """COPY up to ``total`` devices: attached by profile, the rest unattached stock.

    Long because its two row generators (attached, stock) are closures over the same draws; as
    functions of their own they would take eight arguments each.
    """

    def attached() -> Iterator[tuple[int, str, int | None, str, datetime | None]]:
        for asset_id, sector, profile in assets:
            fitting = models[sector]
            if profile == "fresh":
                for k in range(rng.choice((1, 2, 2, 3, 4))):
                    age = (
                        timedelta(minutes=rng.uniform(1, 600))
                        if k == 0
                        else timedelta(days=rng.uniform(0, 9))
                    )
                    yield asset_id, sector, rng.choice(fitting), "active", now - age
            elif profile == "silent":
                for _ in range(rng.choice((1, 2, 3))):
                    yield (
                        asset_id,
                        sector,
                        rng.choice(fitting),
                        "active",
                        now - timedelta(days=rng.uniform(1.5, 60)),
                    )
            elif profile == "never":
                yield asset_id, sector, rng.choice(fitting), "active", None
            elif profile == "inactive":
                for _ in range(rng.choice((1, 2))):
                    state = rng.choice(("provisioned", "suspended", "retired"))
                    seen = None if state == "provisioned" else now - timedelta(days=rng.uniform(1, 300))
                    yield asset_id, sector, rng.choice(fitting), state, seen
            elif profile == "wrong_sector":
                wrong = [m for s, ids in models.items() if s != sector for m in ids]
                yield (
                    asset_id,
                    sector,
                    rng.choice(wrong),
                    "active",
                    now - timedelta(minutes=rng.uniform(1, 600)),
                )

    written = 0
    sightings: list[tuple[str, datetime]] = []
    with (
        conn.cursor() as cur,
        cur.copy("COPY devices (external_id, model_id, organisation_id, asset_id, state) FROM STDIN") as copy,
    ):
        for asset_id, sector, model_id, state, seen in attached():
            if written == total:
                break
            external_id = f"gen-dev-{written:07d}"
            copy.write_row((external_id, model_id, orgs[sector], asset_id, state))
            if seen is not None:
                sightings.append((external_id, seen))
            written += 1
        stock = [m for ids in models.values() for m in ids]
        by_model = {m: s for s, ids in models.items() for m in ids}
        while written < total:
            model_id = rng.choice(stock)
            copy.write_row(
                (f"gen-dev-{written:07d}", model_id, orgs[by_model[model_id]], None, "provisioned")
            )
            written += 1
    # last_seen lives in device_seen (migration 1200), keyed by the ids the COPY above assigned.
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE province_seen (external_id text, last_seen timestamptz)")
        with cur.copy("COPY province_seen (external_id, last_seen) FROM STDIN") as copy:
            for row in sightings:
                copy.write_row(row)
        cur.execute(
            "INSERT INTO device_seen (device_id, last_seen)"
            " SELECT d.id, p.last_seen FROM province_seen p JOIN devices d USING (external_id) ORDER BY d.id"
        )
        cur.execute("DROP TABLE province_seen")
    return written
