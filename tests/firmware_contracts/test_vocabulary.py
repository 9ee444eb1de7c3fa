"""The vocabulary is the one spelling of sectors, reason codes and identifier shapes.

The migrations must spell the sectors in SQL (a CHECK constraint, a seed); they are held to the
vocabulary's list here, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

from firmware_contracts import load_catalogue, load_models
from firmware_contracts.vocabulary import (
    CODE,
    DEAD_LETTER_REASONS,
    DEVICE_ID,
    INGEST_REASONS,
    REJECTION_REASONS,
    SECTORS,
)

MIGRATIONS = Path(__file__).resolve().parents[2] / "hatang" / "migrations"


def test_sectors_are_the_plans_five_in_its_order() -> None:
    assert SECTORS == ("transport", "energy", "electricity", "water", "urban")


def test_the_migrations_spell_the_same_sectors() -> None:
    core = (MIGRATIONS / "0001_core.sql").read_text()
    domain = re.search(r"CREATE DOMAIN sector AS text\s+CHECK \(VALUE IN \(([^)]*)\)\)", core)
    assert domain is not None
    assert tuple(re.findall(r"'([a-z]+)'", domain.group(1))) == SECTORS
    seed = re.search(r"unnest\(ARRAY\[([^\]]*)\]\)", (MIGRATIONS / "0300_readiness.sql").read_text())
    assert seed is not None
    assert tuple(re.findall(r"'([a-z]+)'", seed.group(1))) == SECTORS


def test_every_contract_names_a_sector_of_the_vocabulary() -> None:
    assert {metric.sector for metric in load_catalogue().values()} == set(SECTORS)
    assert {model.sector for model in load_models().values()} <= set(SECTORS)


def test_reason_codes_are_disjoint_and_together_the_dead_letter_reasons() -> None:
    assert not REJECTION_REASONS & INGEST_REASONS
    assert DEAD_LETTER_REASONS == REJECTION_REASONS | INGEST_REASONS


def test_identifier_shapes() -> None:
    assert re.fullmatch(CODE, "tu-son")
    assert not re.fullmatch(CODE, "Tu-Son")
    assert re.fullmatch(DEVICE_ID, "wq_1-a")
    assert not re.fullmatch(DEVICE_ID, "w")
