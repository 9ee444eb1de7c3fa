"""Pytest plugin: a small province whose readiness is worked out by hand (docs/readiness.md).

``readiness_world`` fills the test's own database (``db_url``) with two districts, three communes,
two organisations and every case the definition distinguishes, at a fixed ``NOW``. The expected
figures are in ``EXPECTED``; the asset-by-asset reasoning is in the comments of ``_ASSETS``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import psycopg
import pytest

T = TypeVar("T")

# 13:00 in Bắc Ninh (UTC+7) on 29 November 2026; the 2025 deadline has passed.
NOW = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
# How long before "now" a fresh and a silent device last reported.
FRESH_AGE = timedelta(hours=1)
SILENT_AGE = timedelta(days=3)
FRESH = NOW - FRESH_AGE

# area code -> (level, parent code)
_AREAS = {
    "bac-ninh": ("province", None),
    "tu-son": ("district", "bac-ninh"),
    "dong-ngan": ("commune", "tu-son"),
    "tan-hong": ("commune", "tu-son"),
    "que-vo": ("district", "bac-ninh"),
    "phuong-mao": ("commune", "que-vo"),
}
_ORGANISATIONS = ("so-gtvt", "evn-bn")
_MODELS = {"loop-counter": "transport", "sonde": "water"}

# external id -> (sector, area, organisation, essential, [(model, state, last_seen)])
_ASSETS: dict[str, tuple[str, str, str, bool, list[tuple[str, str, str | None]]]] = {
    # Transport: 7 essential, 4 equipped (T4 T5 T6 T8), 2 ready (T5 T8); 40% of 7 needs 3.
    "T1": ("transport", "dong-ngan", "so-gtvt", True, []),  # no device
    "T2": ("transport", "dong-ngan", "so-gtvt", True, [("loop-counter", "suspended", "fresh")]),  # not active
    "T3": ("transport", "dong-ngan", "so-gtvt", True, [("sonde", "active", "fresh")]),  # wrong sector only
    "T4": ("transport", "dong-ngan", "so-gtvt", True, [("loop-counter", "active", "silent")]),  # silent
    "T5": ("transport", "tan-hong", "so-gtvt", True, [("loop-counter", "active", "fresh")]),  # ready
    "T6": ("transport", "phuong-mao", "evn-bn", True, [("loop-counter", "active", None)]),  # never reported
    # Not essential: never counted.
    "T7": ("transport", "dong-ngan", "so-gtvt", False, [("loop-counter", "active", "fresh")]),
    "T8": (
        "transport", "phuong-mao", "so-gtvt", True,
        [("loop-counter", "active", "fresh"), ("loop-counter", "suspended", None), ("sonde", "active", None)],
    ),  # ready (one fitting active fresh device is enough)
    # Water: 5 essential, 3 equipped, 2 ready: exactly 40.0%, met.
    "W1": ("water", "phuong-mao", "evn-bn", True, [("sonde", "active", "fresh")]),
    "W2": ("water", "phuong-mao", "evn-bn", True, [("sonde", "active", "fresh"), ("sonde", "active", None)]),
    "W3": ("water", "phuong-mao", "evn-bn", True, [("sonde", "active", "silent")]),
    "W4": ("water", "phuong-mao", "evn-bn", True, []),
    "W5": ("water", "phuong-mao", "evn-bn", True, [("sonde", "retired", "fresh")]),
}  # fmt: skip

# scope (area, organisation) -> sector -> (essential, equipped, ready)
EXPECTED: dict[tuple[str | None, str | None], dict[str, tuple[int, int, int]]] = {
    (None, None): {"transport": (7, 4, 2), "water": (5, 3, 2)},
    ("bac-ninh", None): {"transport": (7, 4, 2), "water": (5, 3, 2)},
    ("tu-son", None): {"transport": (5, 2, 1)},
    ("dong-ngan", None): {"transport": (4, 1, 0)},
    ("tan-hong", None): {"transport": (1, 1, 1)},
    ("que-vo", None): {"transport": (2, 2, 1), "water": (5, 3, 2)},
    (None, "evn-bn"): {"transport": (1, 1, 0), "water": (5, 3, 2)},
    (None, "so-gtvt"): {"transport": (6, 3, 2)},
    ("que-vo", "so-gtvt"): {"transport": (1, 1, 1)},
}

# The not-ready essential assets and why.
EXPECTED_GAPS = {
    "T1": "no_device",
    "T2": "device_not_active",
    "T3": "wrong_sector",
    "T4": "silent",
    "T6": "never_reported",
    "W3": "silent",
    "W4": "no_device",
    "W5": "device_not_active",
}


@dataclass(frozen=True, slots=True)
class World:
    """The filled database and the ids the tests refer to."""

    db_url: str
    now: datetime
    areas: dict[str, int]
    organisations: dict[str, int]
    assets: dict[str, int]


def _seen(conn: psycopg.Connection[Any], device_id: int, at: datetime | None) -> None:
    """The device's last_seen, in its own table (migration 1200); never seen: no row."""
    if at is not None:
        conn.execute("INSERT INTO device_seen (device_id, last_seen) VALUES (%s, %s)", (device_id, at))


def build_world(db_url: str, *, now: datetime = NOW) -> World:
    """Fill ``db_url`` with the hand-computed province, its devices' reports timed relative to ``now``."""
    seen = {"fresh": now - FRESH_AGE, "silent": now - SILENT_AGE, None: None}
    areas: dict[str, int] = {}
    organisations: dict[str, int] = {}
    assets: dict[str, int] = {}
    with psycopg.connect(db_url) as conn:
        for slug in _ORGANISATIONS:
            row = conn.execute(
                "INSERT INTO organisations (slug, name) VALUES (%s, %s) RETURNING id", (slug, slug.upper())
            ).fetchone()
            assert row is not None
            organisations[slug] = row[0]
        for code, (level, parent) in _AREAS.items():
            row = conn.execute(
                "INSERT INTO areas (code, name, level, parent_id) VALUES (%s, %s, %s, %s) RETURNING id",
                (code, code, level, None if parent is None else areas[parent]),
            ).fetchone()
            assert row is not None
            areas[code] = row[0]
        models = {}
        for model, sector in _MODELS.items():
            row = conn.execute(
                "INSERT INTO device_models (model, version, sector, contract) "
                "VALUES (%s, 1, %s, '{}') RETURNING id",
                (model, sector),
            ).fetchone()
            assert row is not None
            models[model] = row[0]
        serial = 0
        for external_id, (sector, area, org, essential, devices) in _ASSETS.items():
            row = conn.execute(
                """
                INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, essential)
                VALUES (%s, %s, %s, %s, 'site', %s) RETURNING id
                """,
                (external_id, organisations[org], areas[area], sector, essential),
            ).fetchone()
            assert row is not None
            assets[external_id] = row[0]
            for model, state, last_seen in devices:
                serial += 1
                device = conn.execute(
                    """
                    INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)
                    VALUES (%s, %s, %s, %s, %s) RETURNING id
                    """,
                    (f"dev-{serial:03d}", models[model], organisations[org], row[0], state),
                ).fetchone()
                assert device is not None
                _seen(conn, device[0], seen[last_seen])
        # A device on no asset counts for nothing.
        device = conn.execute(
            "INSERT INTO devices (external_id, model_id, organisation_id, state) "
            "VALUES ('dev-loose', %s, %s, 'active') RETURNING id",
            (models["sonde"], organisations["evn-bn"]),
        ).fetchone()
        assert device is not None
        _seen(conn, device[0], seen["fresh"])
    return World(db_url=db_url, now=now, areas=areas, organisations=organisations, assets=assets)


@pytest.fixture
def readiness_world(db_url: str) -> World:
    """The test's own database holding the hand-computed province at the fixed ``NOW``."""
    return build_world(db_url)


@pytest.fixture
def readiness_world_now(db_url: str) -> World:
    """The hand-computed province with reports timed relative to the real clock (for the API)."""
    return build_world(db_url, now=datetime.now(UTC))


def run(db_url: str, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run ``work`` on an autocommit async connection to ``db_url``."""

    async def main() -> T:
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            return await work(conn)

    return asyncio.run(main())
