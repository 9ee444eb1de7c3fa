"""The worker's in-memory view of the registry: external device id -> :class:`Device`.

Owns :class:`Device`, :class:`DeviceRow` (what the registry query returns) and :class:`DeviceCache`,
which compiles each device model once and answers a lookup per message without I/O. It must not
query the database itself: ``ingest.queries`` loads rows and the runner feeds them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from firmware_contracts import CompiledModel, DeviceModel, Limits, compile_model

#: The area slice of devices whose asset (or area) is not set.
UNASSIGNED_AREA = "unassigned"


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """One device as the registry stores it (joined with its model, asset and area)."""

    id: int
    external_id: str
    model: str
    model_version: int
    state: str
    sector: str
    area: str | None
    organisation_id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Device:
    """What ingest needs to know about a device for each of its messages.

    ``compiled`` is None when this worker's contracts package does not know the device's model
    (a newer release than the worker): its messages become dead letters ``unknown_model``.
    """

    id: int
    external_id: str
    model: tuple[str, int]
    state: str
    sector: str
    area: str
    organisation_id: int
    compiled: CompiledModel | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A whole registry's devices, built away from the worker's loop; :meth:`DeviceCache.install` it."""

    devices: dict[str, Device]
    by_id: dict[int, str]
    watermark: datetime | None


class DeviceCache:
    """External id -> :class:`Device`, updated from registry rows; every model compiled once.

    Incremental updates (:meth:`apply`) touch only the changed rows: the reverse map id -> external
    id is kept alongside, not rebuilt per refresh (at a million devices a rebuild was a stall of
    its own). A whole reload is built as a :class:`Snapshot` (:meth:`prepare`, safe to call in
    another thread) and swapped in at once (:meth:`install`).
    """

    def __init__(self, *, models: Mapping[tuple[str, int], DeviceModel], limits: Limits) -> None:
        self._models = models
        self._limits = limits
        self._compiled: dict[tuple[str, int], CompiledModel] = {}
        self._devices: dict[str, Device] = {}
        self._by_id: dict[int, str] = {}
        self.watermark: datetime | None = None

    def __len__(self) -> int:
        return len(self._devices)

    def get(self, external_id: str) -> Device | None:
        """The device with this external id, or None."""
        return self._devices.get(external_id)

    def compiled(self, key: tuple[str, int]) -> CompiledModel | None:
        """The compiled model ``(id, version)``, compiled on first use; None if unknown here."""
        found = self._compiled.get(key)
        if found is None and key in self._models:
            found = self._compiled[key] = compile_model(self._models[key], self._limits)
        return found

    def _device(self, row: DeviceRow) -> Device:
        key = (row.model, row.model_version)
        return Device(
            id=row.id,
            external_id=row.external_id,
            model=key,
            state=row.state,
            sector=row.sector,
            area=row.area or UNASSIGNED_AREA,
            organisation_id=row.organisation_id,
            compiled=self.compiled(key),
        )

    def _merge(
        self, devices: dict[str, Device], by_id: dict[int, str], rows: Iterable[DeviceRow]
    ) -> tuple[int, datetime | None]:
        count, watermark = 0, None
        for row in rows:
            # An external id can be re-used after a device row is deleted: drop the stale key.
            stale = by_id.get(row.id)
            if stale is not None and stale != row.external_id:
                devices.pop(stale, None)
            previous = devices.get(row.external_id)
            if previous is not None and previous.id != row.id:
                by_id.pop(previous.id, None)
            devices[row.external_id] = self._device(row)
            by_id[row.id] = row.external_id
            if watermark is None or row.updated_at > watermark:
                watermark = row.updated_at
            count += 1
        return count, watermark

    def prepare(self, rows: Iterable[DeviceRow], *, read_at: datetime | None = None) -> Snapshot:
        """A snapshot of exactly ``rows`` (the whole registry); reads nothing of this cache's devices.

        ``read_at`` (the database's clock when the rows were read) becomes the watermark, so that
        the next refresh reads what changed since then, not every row of the newest bulk load.
        """
        devices: dict[str, Device] = {}
        by_id: dict[int, str] = {}
        _, watermark = self._merge(devices, by_id, rows)
        return Snapshot(devices, by_id, read_at if read_at is not None else watermark)

    def install(self, snapshot: Snapshot) -> None:
        """Replace every device with ``snapshot``'s (one assignment each: no half-built state)."""
        self._devices, self._by_id, self.watermark = snapshot.devices, snapshot.by_id, snapshot.watermark

    def apply(self, rows: Iterable[DeviceRow], *, replace: bool = False) -> int:
        """Take in changed rows (``replace``: the rows are the whole registry); returns the count."""
        if replace:
            rows = list(rows)
            self.install(self.prepare(rows))
            return len(rows)
        count, watermark = self._merge(self._devices, self._by_id, rows)
        if watermark is not None and (self.watermark is None or watermark > self.watermark):
            self.watermark = watermark
        return count
