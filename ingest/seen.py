"""Which devices' ``last_seen`` a batch writes: only those that moved by the stated granularity.

Owns :class:`SeenThrottle`. Writing ``last_seen`` for every device of every batch was about 10 µs of
PostgreSQL per message with 20,000 devices (docs/ingest.md, "Device health"), although readiness
asks "within 24 hours" and device health "within minutes". A device's ``last_seen`` is written
when this worker last wrote it ``granularity_s`` or more earlier (and the first time it is seen),
so it lags the newest valid reading by less than the granularity. Pure bookkeeping: plain values
in and out, no clock (the receive times come with the batch), no I/O.
"""

from __future__ import annotations

from ingest.batch import Upserts


class SeenThrottle:
    """Device id -> the ``last_seen`` this worker last wrote; thins each batch's upserts."""

    def __init__(self, *, granularity_s: float) -> None:
        self.granularity_s = granularity_s
        self._written: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._written)

    def thin(self, upserts: Upserts) -> Upserts:
        """``upserts`` with only the ``last_seen`` writes that are due (and noted as written).

        Noted when handed over, not when committed: a batch that fails is retried until it commits
        (``ingest.runner``), so what is noted is always written in the end.
        """
        if self.granularity_s <= 0:
            return upserts
        written, step = self._written, self.granularity_s
        devices: list[int] = []
        times: list[float] = []
        for device_id, at in zip(upserts.seen_device, upserts.seen_at, strict=True):
            if at - written.get(device_id, -step) >= step:
                written[device_id] = at
                devices.append(device_id)
                times.append(at)
        return upserts._replace(seen_device=devices, seen_at=times)
