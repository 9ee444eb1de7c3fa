"""Messages of a simulated fleet: payloads built from the signal models, faults, and their outcome.

Owns :class:`SimDevice` (a device with its credentials), :class:`FaultPlan` (the fractions of
injected faults), :class:`Outbound` (one message to publish, with what it must produce) and
:class:`MessageFactory`, which turns "device i sends now" into payload bytes through the contracts'
own encoders. Pure: the caller passes the time and the random draw; no I/O. A fault message's
expected outcome is computed with the contracts' :func:`~firmware_contracts.normalise` itself, so
the report can check ingest counted exactly what was injected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from firmware_contracts import CompiledModel, encode_native, encode_senml, normalise
from simulators.signals import Signal, signal_for

#: Fault classes drawn per message, and the dead-letter reason each must produce.
#: ``duplicate`` produces none (the second copy lands on the unique key) and ``silent`` is per device.
FAULT_REASONS: dict[str, str | None] = {
    "malformed": "malformed",
    "unknown_device": "unknown_device",
    "out_of_range": "out_of_range",
    "clock_skew": "time_in_future",
    "duplicate": None,
}


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A simulated device: its external id (its MQTT username), secret and model ``(id, version)``."""

    external_id: str
    secret: str
    model: tuple[str, int]


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Fractions of messages (``silent``: of devices) that carry each fault; at most 1 in total."""

    malformed: float = 0.0
    unknown_device: float = 0.0
    out_of_range: float = 0.0
    clock_skew: float = 0.0
    duplicate: float = 0.0
    silent: float = 0.0

    def __post_init__(self) -> None:
        fractions = [self.malformed, self.unknown_device, self.out_of_range, self.clock_skew, self.duplicate]
        if any(not 0.0 <= f <= 1.0 for f in [*fractions, self.silent]) or sum(fractions) > 1.0:
            raise ValueError("fault fractions must lie in [0, 1] and the message faults sum to at most 1")

    def draw(self, u: float) -> str | None:
        """The fault of a message given a uniform draw ``u`` in [0, 1), or None for a good message."""
        edge = 0.0
        for kind in FAULT_REASONS:
            edge += getattr(self, kind)
            if u < edge:
                return kind
        return None

    @property
    def any(self) -> bool:
        """Whether any fault is injected at all."""
        return any(getattr(self, kind) > 0 for kind in (*FAULT_REASONS, "silent"))


class Outbound(NamedTuple):
    """One message to publish and what it must produce once ingested."""

    topic: str
    payload: bytes
    via_service: bool  # published with the service account (unknown-device faults)
    readings: int  # readings that must land
    dead: tuple[str, ...]  # dead-letter reasons it must produce
    newest: float  # its newest reading's time (epoch s)
    fault: str | None


class MessageFactory:
    """Builds device ``i``'s next message at ``now``: native JSON, or SenML packs of ``pack`` records.

    Reading times are milliseconds and strictly increase per device (a pack's instants are 1 ms
    apart, its newest at the send time), so no two messages of a device share a reading key.
    """

    def __init__(
        self,
        *,
        devices: Sequence[SimDevice],
        models: Mapping[tuple[str, int], CompiledModel],
        topic_prefix: str,
        seed: int,
        device_mount: str = "",
        pack: int,
        run_id: str,
    ) -> None:
        if pack < 1:
            raise ValueError("pack must be at least 1")
        self._devices = devices
        self._compiled = [models[d.model] for d in devices]
        self._signals: list[Signal] = [
            signal_for(models[d.model].model, seed=seed, device=d.external_id) for d in devices
        ]
        self._topics = [f"{topic_prefix}/devices/{d.external_id}/telemetry" for d in devices]
        self._prefix = topic_prefix
        self._mount = device_mount  # the service account publishes where the device listener would put it
        self._pack = pack
        self._run_id = run_id
        self._next_ms = [0] * len(devices)
        self._unknown = 0

    def topic(self, index: int) -> str:
        """The telemetry topic of device ``index``."""
        return self._topics[index]

    def _instants(self, index: int, now: float, count: int) -> list[float]:
        newest_ms = max(math.floor(now * 1000.0), self._next_ms[index] + count - 1)
        self._next_ms[index] = newest_ms + 1
        return [(newest_ms - count + 1 + i) / 1000.0 for i in range(count)]

    def _good(self, index: int, now: float) -> tuple[bytes, int, float]:
        compiled, signal = self._compiled[index], self._signals[index]
        if self._pack == 1:
            (t,) = self._instants(index, now, 1)
            values = signal.values(t)
            return encode_native(compiled, t, values), len(values), t
        metrics = len(compiled.fields)
        instants = self._instants(index, now, math.ceil(self._pack / metrics))
        records = [(t, m, v) for t in instants for m, v in signal.values(t).items()][: self._pack]
        payload = encode_senml(compiled, records, base_name=f"{self._devices[index].external_id}:")
        return payload, len(records), instants[-1]

    def message(self, index: int, now: float, fault: str | None) -> list[Outbound]:
        """Device ``index``'s message at ``now`` with ``fault`` (:data:`FAULT_REASONS`); two if duplicated."""
        if fault is None or fault == "duplicate":
            payload, readings, newest = self._good(index, now)
            first = Outbound(self._topics[index], payload, False, readings, (), newest, None)
            if fault is None:
                return [first]
            return [first, first._replace(readings=0, fault="duplicate")]
        compiled, signal = self._compiled[index], self._signals[index]
        if fault == "unknown_device":
            payload, _, newest = self._good(index, now)
            self._unknown += 1
            topic = f"{self.unknown_prefix}{self._unknown}/telemetry"
            return [Outbound(topic, payload, True, 0, ("unknown_device",), newest, fault)]
        (t,) = self._instants(index, now, 1)
        values = signal.values(t)
        if fault == "malformed":
            good = encode_native(compiled, t, values)
            payload = good[: len(good) // 2]
        elif fault == "out_of_range":
            field = next(f for f in compiled.fields if f.spec.type != "boolean")
            values[field.metric] = field.high + (field.high - field.low) + 1.0
            payload = encode_native(compiled, t, values)
        elif fault == "clock_skew":
            payload = encode_native(compiled, t + compiled.limits.max_future_s + 86400.0, values)
        else:
            raise ValueError(f"unknown fault {fault!r}")
        outcome = normalise(payload, now, compiled)
        dead = tuple(r.reason for r in outcome.rejections)
        return [Outbound(self._topics[index], payload, False, len(outcome.readings), dead, t, fault)]

    @property
    def unknown_prefix(self) -> str:
        """Topics of the unknown devices this factory invents start with this (unique per run)."""
        return f"{self._mount}{self._prefix}/devices/sim-unknown-{self._run_id}-"
