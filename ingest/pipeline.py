"""The hand-over between the builder and the writers, and the counts both keep.

Owns :class:`Pipeline` (a queue holding as many batches as there are writers, so that while the
writers are stuck the builder waits, and the :class:`~ingest.health.Health` every loop reports
into) and :class:`Backoff`. It must not read the broker or the
database itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ingest.batch import Batch, Upserts
from ingest.health import Health
from ingest.metrics import IngestMetrics
from ingest.mqtt import Consumer


@dataclass(slots=True)
class Handover:
    """One batch on its way to a writer, with what acknowledging it in order needs."""

    batch: Batch
    upserts: Upserts
    consumer: Consumer
    # Acknowledgements go out in hand-over order although the writers commit concurrently: each
    # batch waits for its predecessor's. Mosquitto finds a PUBACK's message by walking the client's
    # in-flight list from the oldest; acknowledged out of order, that walk cost it 6.75-7.25 µs of
    # CPU per message instead of 3.5-4 (bench ingest, two writers against one).
    previous_acked: asyncio.Event
    acked: asyncio.Event


def _set(event: asyncio.Event) -> asyncio.Event:
    event.set()
    return event


@dataclass(slots=True)
class Backoff:
    """Doubling delays from ``initial`` up to ``maximum``; :meth:`reset` after a success."""

    initial: float
    maximum: float
    current: float = 0.0

    def next(self) -> float:
        """The next delay in seconds."""
        self.current = self.initial if self.current == 0 else min(self.current * 2, self.maximum)
        return self.current

    def reset(self) -> None:
        """Start again from ``initial``."""
        self.current = 0.0


@dataclass(slots=True)
class Pipeline:
    """The builder's hand-over to ``writers`` writers and the messages taken but not acknowledged."""

    metrics: IngestMetrics
    writers: int
    ready_stall_s: float = 60.0
    handover: asyncio.Queue[Handover | None] = field(init=False)
    unacked: int = 0
    batches: int = 0
    last_acked: asyncio.Event = field(default_factory=lambda: _set(asyncio.Event()))
    #: What the probes read (``ingest.health``): every loop reports into it.
    health: Health = field(init=False)

    def __post_init__(self) -> None:
        self.handover = asyncio.Queue(maxsize=self.writers)
        self.health = Health(stall_s=self.ready_stall_s, pending=lambda: self.unacked)

    async def hand_over(self, batch: Batch, upserts: Upserts, consumer: Consumer) -> None:
        """Queue ``batch`` for the writers (waits while they all hold one)."""
        self.batches += 1
        acked = asyncio.Event()
        item = Handover(batch, upserts, consumer, self.last_acked, acked)
        self.last_acked = acked
        await self.handover.put(item)
