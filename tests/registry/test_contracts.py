"""sync_contracts: the catalogue and models land in the database, and a second run changes nothing."""

from __future__ import annotations

import psycopg

from firmware_contracts import load_catalogue, load_models
from registry.contracts import sync_contracts


def test_sync_contracts_loads_catalogue_and_models_idempotently(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        sync_contracts(conn)
        metrics: dict[str, str] = dict(conn.execute("SELECT name, unit FROM metrics").fetchall())
        models = conn.execute("SELECT model, version, contract, loaded_at FROM device_models").fetchall()
        sync_contracts(conn)
        again = conn.execute("SELECT model, version, contract, loaded_at FROM device_models").fetchall()
        metric_ids = conn.execute("SELECT name, id FROM metrics ORDER BY id").fetchall()
        sync_contracts(conn)
        assert conn.execute("SELECT name, id FROM metrics ORDER BY id").fetchall() == metric_ids
    assert metrics == {m.name: m.unit for m in load_catalogue().values()}
    assert {(m, v) for m, v, _, _ in models} == set(load_models())
    assert sorted(models) == sorted(again)
    for model, version, contract, _ in models:
        assert contract["id"] == model
        assert contract["version"] == version
