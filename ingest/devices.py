"""The worker's in-memory view of the registry: external device id -> :class:`Device`.

Owns :class:`Device`, :class:`DeviceRow` (what the registry query returns), :class:`DeviceCache`,
which compiles each device model once and answers a lookup per message without I/O, and the
:class:`Snapshot` a whole reload builds (:class:`SnapshotBuilder`). It must not query the database
itself: ``ingest.queries`` loads rows and the registry watcher feeds them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
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

    def release(self, *, slice_size: int) -> Iterator[int]:
        """Empty this (replaced) snapshot ``slice_size`` entries at a time; yields after each slice.

        Dropping a two-million-entry dictionary at once frees every entry in one C call, the GIL
        held throughout: 0.26-0.37 s of the worker's loop at 2,000,000 devices. One ``popitem`` at
        a time lets the interpreter hand the GIL over between them. Only for a snapshot no lookup
        can still be reading (see ``RegistryWatcher``): its entries disappear as it is emptied.
        """
        for table in (self.devices, self.by_id):
            while table:
                pop = table.popitem
                for _ in range(min(slice_size, len(table))):
                    pop()
                yield len(table)


class DeviceCache:
    """External id -> :class:`Device`, updated from registry rows; every model compiled once.

    Incremental updates (:meth:`apply`) touch only the changed rows: the reverse map id -> external
    id is kept alongside, not rebuilt per refresh (at a million devices a rebuild was a stall of
    its own). A whole reload is built as a :class:`Snapshot` (:meth:`prepare` or
    :class:`SnapshotBuilder`, safe to use in another thread) and swapped in at once (:meth:`install`).

    A device whose row has not changed keeps its :class:`Device` object, and the few values that
    thousands of devices share (state, sector, area, model) are held once: a whole reload then
    allocates objects only for what changed, instead of a second copy of the fleet (at 2,000,000
    devices the copy took the process from 1.6 to 3.3 GB, and its allocations set off full garbage
    collections of 0.8-2.2 s each, GIL held, four or five per reload).
    """

    def __init__(self, *, models: Mapping[tuple[str, int], DeviceModel], limits: Limits) -> None:
        self._models = models
        self._limits = limits
        self._compiled: dict[tuple[str, int], CompiledModel] = {}
        self._devices: dict[str, Device] = {}
        self._by_id: dict[int, str] = {}
        self._keys: dict[tuple[str, int], tuple[str, int]] = {}  # one (model, version) tuple each
        self._words: dict[str, str] = {}  # one string per state, sector and area code
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

    def _device(self, row: DeviceRow, known: Device | None) -> Device:
        """``row``'s device: ``known`` itself when it says the same (a reload then allocates nothing)."""
        words = self._words
        state = words.setdefault(row.state, row.state)
        sector = words.setdefault(row.sector, row.sector)
        area = row.area or UNASSIGNED_AREA
        area = words.setdefault(area, area)
        key = (row.model, row.model_version)
        key = self._keys.setdefault(key, key)
        if (
            known is not None
            and known.id == row.id
            and known.external_id == row.external_id
            and known.model is key
            and known.state is state
            and known.sector is sector
            and known.area is area
            and known.organisation_id == row.organisation_id
        ):
            return known
        return Device(
            id=row.id,
            external_id=row.external_id,
            model=key,
            state=state,
            sector=sector,
            area=area,
            organisation_id=row.organisation_id,
            compiled=self.compiled(key),
        )

    def _merge(
        self,
        devices: dict[str, Device],
        by_id: dict[int, str],
        rows: Iterable[DeviceRow],
        known: Mapping[str, Device],
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
            device = self._device(row, known.get(row.external_id))
            devices[device.external_id] = device  # the known device's own key and id: held once
            by_id[device.id] = device.external_id
            if watermark is None or row.updated_at > watermark:
                watermark = row.updated_at
            count += 1
        return count, watermark

    def prepare(self, rows: Iterable[DeviceRow], *, read_at: datetime | None = None) -> Snapshot:
        """A snapshot of exactly ``rows`` (the whole registry); changes nothing of this cache.

        ``read_at`` (the database's clock when the rows were read) becomes the watermark, so that
        the next refresh reads what changed since then, not every row of the newest bulk load.
        """
        builder = SnapshotBuilder(self)
        builder.add(rows)
        return builder.build(read_at=read_at)

    def install(self, snapshot: Snapshot) -> Snapshot:
        """Replace every device with ``snapshot``'s (one assignment each: no half-built state).

        Returns the replaced snapshot, for the caller to :meth:`Snapshot.release` once no lookup
        can still be reading it (dropped at once, its last reference frees it in one C call).
        """
        replaced = Snapshot(self._devices, self._by_id, self.watermark)
        self._devices, self._by_id, self.watermark = snapshot.devices, snapshot.by_id, snapshot.watermark
        return replaced

    def apply(self, rows: Iterable[DeviceRow], *, replace: bool = False) -> int:
        """Take in changed rows (``replace``: the rows are the whole registry); returns the count."""
        if replace:
            rows = list(rows)
            self.install(self.prepare(rows))
            return len(rows)
        count, watermark = self._merge(self._devices, self._by_id, rows, self._devices)
        if watermark is not None and (self.watermark is None or watermark > self.watermark):
            self.watermark = watermark
        return count


@dataclass(slots=True)
class SnapshotBuilder:
    """A :class:`Snapshot` of the whole registry built a slice of rows at a time (:meth:`add`).

    The rows of a slice can be dropped once added: holding the whole registry's rows until the end
    cost as much memory again as the snapshot, and freeing them at once (one C call, GIL held)
    stalled the worker's loop for 0.30-0.52 s at 2,000,000 devices. Reads the cache only to re-use its
    unchanged devices; safe to use in a thread other than the cache's readers.
    """

    cache: DeviceCache
    devices: dict[str, Device] = field(default_factory=dict)
    by_id: dict[int, str] = field(default_factory=dict)
    watermark: datetime | None = None
    count: int = 0

    def add(self, rows: Iterable[DeviceRow]) -> None:
        """Take in the next rows of the registry."""
        count, watermark = self.cache._merge(self.devices, self.by_id, rows, self.cache._devices)
        self.count += count
        if watermark is not None and (self.watermark is None or watermark > self.watermark):
            self.watermark = watermark

    def build(self, *, read_at: datetime | None = None) -> Snapshot:
        """The snapshot of every row added; ``read_at`` becomes its watermark (as for ``prepare``)."""
        return Snapshot(self.devices, self.by_id, read_at if read_at is not None else self.watermark)
