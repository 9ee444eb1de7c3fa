"""The vocabulary is the one spelling of reason codes and identifier shapes; sectors are data.

The migrations seed the sectors in SQL (1002, and before it 0001's CHECK and 0300's targets); they
are held to the contracts' catalogue here, so the data and the contracts cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

from firmware_contracts import load_catalogue, load_models, sectors
from firmware_contracts.vocabulary import (
    CODE,
    DEAD_LETTER_REASONS,
    DEVICE_ID,
    INGEST_REASONS,
    REJECTION_REASONS,
    SECTOR_CODE,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "hatang" / "migrations"


# The plan's five in its own order (Kế hoạch 333/KH-UBND, II.2: "giao thông, năng lượng, điện, nước, đô thị").
PLAN = ("transport", "energy", "electricity", "water", "urban")


def test_the_sectors_table_is_seeded_with_the_plans_five_in_its_order() -> None:
    seed = (MIGRATIONS / "1002_sectors.sql").read_text()
    rows = re.findall(r"\('([a-z0-9-]+)', '[^']*', '[^']*', (\d+),", seed)
    assert [code for code, _ in sorted(rows, key=lambda r: int(r[1]))] == list(PLAN)
    assert all(re.fullmatch(SECTOR_CODE, code) for code, _ in rows)


def test_the_earlier_migrations_spell_the_same_five() -> None:
    core = (MIGRATIONS / "0001_core.sql").read_text()
    domain = re.search(r"CREATE DOMAIN sector AS text\s+CHECK \(VALUE IN \(([^)]*)\)\)", core)
    assert domain is not None
    assert tuple(re.findall(r"'([a-z]+)'", domain.group(1))) == PLAN
    seed = re.search(r"unnest\(ARRAY\[([^\]]*)\]\)", (MIGRATIONS / "0300_readiness.sql").read_text())
    assert seed is not None
    assert tuple(re.findall(r"'([a-z]+)'", seed.group(1))) == PLAN


def test_every_contract_names_a_seeded_sector() -> None:
    assert {metric.sector for metric in load_catalogue().values()} == sectors() == set(PLAN)
    assert {model.sector for model in load_models().values()} <= sectors()


def test_reason_codes_are_disjoint_and_together_the_dead_letter_reasons() -> None:
    assert not REJECTION_REASONS & INGEST_REASONS
    assert DEAD_LETTER_REASONS == REJECTION_REASONS | INGEST_REASONS


def test_identifier_shapes() -> None:
    assert re.fullmatch(CODE, "tu-son")
    assert not re.fullmatch(CODE, "Tu-Son")
    assert re.fullmatch(DEVICE_ID, "wq_1-a")
    assert not re.fullmatch(DEVICE_ID, "w")
