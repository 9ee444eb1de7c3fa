"""Whole reloads of the worker's device cache: off the loop, re-using what did not change, and exact."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from firmware_contracts import Limits, load_models
from ingest import IngestMetrics, RegistryWatcher
from ingest.devices import Device
from tests.plugins.ingest import IngestFleet


def _watcher(db_url: str, *, fetch_slice: int, release_slice: int) -> RegistryWatcher:
    return RegistryWatcher(
        database_url=db_url, models=load_models(), limits=Limits(), metrics=IngestMetrics(),
        retry_initial_s=0.2, retry_max_s=1.0, fetch_slice=fetch_slice, release_slice=release_slice,
    )  # fmt: skip


async def _reload(watcher: RegistryWatcher) -> None:
    async with await psycopg.AsyncConnection.connect(watcher.database_url, autocommit=True) as conn:
        await watcher.reload_all(conn)


def _view(device: Device | None) -> tuple[Any, ...] | None:
    if device is None:
        return None
    return (device.id, device.external_id, device.model, device.state, device.sector, device.area,
            device.organisation_id, device.compiled is not None)  # fmt: skip


def _change_the_registry(fleet: IngestFleet) -> str:
    """A state change, an asset moved, a device deleted, an external id re-used, a new device."""
    copy = (
        "INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state)"
        " SELECT %s, model_id, organisation_id, asset_id, 'active' FROM devices WHERE external_id = %s"
    )
    with psycopg.connect(fleet.db_url) as conn:
        conn.execute("UPDATE devices SET state = 'suspended' WHERE external_id = %s", (fleet.active[0],))
        conn.execute("INSERT INTO areas (code, name, level) VALUES ('reload-to', 'Reload to', 'commune')")
        conn.execute(
            "UPDATE assets SET area_id = (SELECT id FROM areas WHERE code = 'reload-to')"
            " WHERE id = (SELECT asset_id FROM devices WHERE external_id = %s)",
            (fleet.active[1],),
        )
        conn.execute("DELETE FROM devices WHERE external_id = %s", (fleet.provisioned[0],))
        conn.execute("DELETE FROM devices WHERE external_id = %s", (fleet.suspended[0],))
        conn.execute(copy, (fleet.suspended[0], fleet.active[2]))  # the same external id, a new row
        conn.execute(copy, (f"{fleet.active[3]}-new", fleet.active[3]))
    return fleet.active[4]  # on the asset that did not move (the fleet alternates two): untouched


def test_a_reload_in_the_watch_thread_leaves_the_cache_as_a_fresh_load(ingest_fleet: IngestFleet) -> None:
    fleet = ingest_fleet

    async def scenario() -> tuple[RegistryWatcher, RegistryWatcher, dict[str, Device | None], dict[int, str]]:
        watcher = _watcher(fleet.db_url, fetch_slice=3, release_slice=2)
        await _reload(watcher)
        before = {name: watcher.devices.get(name) for name in fleet.active}
        replaced = watcher.devices._devices
        untouched = _change_the_registry(fleet)
        # As the worker does it: in a thread of its own, the loop's lookups meanwhile on this one.
        watcher.main = asyncio.get_running_loop()
        await asyncio.to_thread(asyncio.run, _reload(watcher))
        assert replaced == {}  # emptied, a slice at a time, once this loop had turned
        assert watcher.devices.get(untouched) is before[untouched]  # unchanged: the same object
        fresh = _watcher(fleet.db_url, fetch_slice=0, release_slice=2)
        await _reload(fresh)
        return watcher, fresh, before, watcher.devices._by_id

    watcher, fresh, before, by_id = asyncio.run(scenario())
    with psycopg.connect(fleet.db_url) as conn:
        names = [row[0] for row in conn.execute("SELECT external_id FROM devices ORDER BY id")]
    assert len(watcher.devices) == len(fresh.devices) == len(names)
    assert [_view(watcher.devices.get(n)) for n in names] == [_view(fresh.devices.get(n)) for n in names]
    assert by_id == fresh.devices._by_id
    assert watcher.devices.get(fleet.provisioned[0]) is None
    assert watcher.devices.get(fleet.active[0]).state == "suspended"  # type: ignore[union-attr]
    assert watcher.devices.get(fleet.active[1]).area == "reload-to"  # type: ignore[union-attr]
    reused = watcher.devices.get(fleet.suspended[0])
    assert reused is not None
    assert reused.state == "active"
    assert reused.id not in {device.id for device in before.values() if device is not None}
