"""``hatang seed`` loads the Bắc Ninh demo once; a second run changes nothing and keeps the key."""

from __future__ import annotations

from pathlib import Path

import psycopg

from hatang.commands.seed import seed
from hatang.demo import ORGANISATIONS, demo_assets


def test_seed_is_idempotent_and_keeps_its_admin_key(db_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "demo-admin.key"
    first, token = seed(db_url, key_file=key_file)
    assert first.created == len(demo_assets())
    assert first.failed == 0
    assert key_file.stat().st_mode & 0o777 == 0o600
    again, same = seed(db_url, key_file=key_file)
    assert (again.created, again.exists) == (0, len(demo_assets()))
    assert same == token
    with psycopg.connect(db_url) as conn:
        areas = conn.execute("SELECT level, count(*) FROM areas GROUP BY level ORDER BY level").fetchall()
        orgs = {row[0] for row in conn.execute("SELECT slug FROM organisations")}
        sectors = {row[0] for row in conn.execute("SELECT DISTINCT sector FROM assets")}
        keys = conn.execute("SELECT count(*) FROM api_keys WHERE role = 'admin'").fetchone()
        models = conn.execute("SELECT count(*) FROM device_models").fetchone()
    assert areas == [("district", 8), ("province", 1)]
    assert orgs == set(ORGANISATIONS)
    assert sectors == {"transport", "energy", "electricity", "water", "urban"}
    assert keys == (1,)
    assert models is not None
    assert models[0] > 0
