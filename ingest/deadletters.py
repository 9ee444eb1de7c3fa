"""Dead letters after the fact: listing them, and replaying them through the same path as live traffic.

Owns :class:`DeadLetterRow`, :func:`list_dead_letters` and :func:`replay_dead_letters`. A replay runs
the stored payload, as received on its original topic at its original time, through
:func:`ingest.batch.intake` and :func:`ingest.sink.write_batch` now (after a fix: the device was
activated, its model shipped, a range corrected) and records ``replayed_at`` and ``replay_result``.
It never publishes on MQTT and never adds new dead letters: a replay that is rejected again says
why in ``replay_result``. The API's router is a thin shell over these functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg

from firmware_contracts import DeviceModel, Limits, load_models
from ingest.batch import Batch, TopicLayout, intake, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache
from ingest.errors import ReplayError
from ingest.queries import load_device, load_metric_ids
from ingest.sink import write_batch


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """One row of ``dead_letters`` with its device's external id (when known)."""

    id: int
    received_at: datetime
    topic: str
    payload: bytes
    device_id: int | None
    device: str | None
    reason: str
    message: str
    record: int | None
    replayed_at: datetime | None
    replay_result: str | None


_SELECT = """
    SELECT l.id, l.received_at, l.topic, l.payload, l.device_id, d.external_id, l.reason, l.message,
           l.record, l.replayed_at, l.replay_result
    FROM dead_letters l LEFT JOIN devices d ON d.id = l.device_id
"""


async def list_dead_letters(
    conn: psycopg.AsyncConnection[Any],
    *,
    reason: str | None = None,
    device: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    replayed: bool | None = None,
    before: int | None = None,
    limit: int = 100,
    organisation_id: int | None = None,
) -> list[DeadLetterRow]:
    """Dead letters, newest first (keyset on ``id``: pass the last id seen as ``before``).

    ``organisation_id`` keeps only letters of that organisation's devices (an operator's view);
    letters of unknown devices belong to no organisation and are seen city-wide only.
    """
    query = _SELECT + """
        WHERE (%(reason)s::text IS NULL OR l.reason = %(reason)s)
          AND (%(org)s::bigint IS NULL OR d.organisation_id = %(org)s)
          AND (%(device)s::text IS NULL OR d.external_id = %(device)s)
          AND (%(since)s::timestamptz IS NULL OR l.received_at >= %(since)s)
          AND (%(until)s::timestamptz IS NULL OR l.received_at < %(until)s)
          AND (%(replayed)s::boolean IS NULL OR (l.replayed_at IS NOT NULL) = %(replayed)s)
          AND (%(before)s::bigint IS NULL OR l.id < %(before)s)
        ORDER BY l.id DESC
        LIMIT %(limit)s
    """
    params = {
        "reason": reason, "device": device, "since": since, "until": until,
        "replayed": replayed, "before": before, "limit": limit, "org": organisation_id,
    }  # fmt: skip
    async with conn.cursor() as cur:
        await cur.execute(query, params)
        return [DeadLetterRow(*row) for row in await cur.fetchall()]


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """What replaying one dead letter did (also stored, as ``result``, in ``replay_result``)."""

    id: int
    stored: int
    duplicates: int
    rejected: tuple[tuple[str, str], ...]
    result: str


def _result(stored: int, duplicates: int, rejected: Sequence[tuple[str, str]]) -> str:
    parts = [f"stored {stored}", f"duplicates {duplicates}"]
    if rejected:
        reason, message = rejected[0]
        more = f" (+{len(rejected) - 1} more)" if len(rejected) > 1 else ""
        parts.append(f"rejected {reason}: {message}{more}")
    return "; ".join(parts)


async def replay_dead_letters(
    conn: psycopg.AsyncConnection[Any],
    *,
    ids: Sequence[int],
    topic_prefix: str,
    limits: Limits,
    device_mount: str = "",
    models: Mapping[tuple[str, int], DeviceModel] | None = None,
    organisation_id: int | None = None,
) -> list[ReplayOutcome]:
    """Replay the dead letters ``ids`` now, in one transaction; raises ReplayError for an unknown id.

    With ``organisation_id``, a letter of another organisation's device (or of no known device) is
    unknown too: an operator can neither replay nor learn of another's letters.
    """
    layout = TopicLayout(topic_prefix, device_mount)
    devices = DeviceCache(models=load_models() if models is None else models, limits=limits)
    outcomes: list[ReplayOutcome] = []
    async with conn.transaction():
        metric_ids = await load_metric_ids(conn)
        async with conn.cursor() as cur:
            await cur.execute(
                _SELECT + " WHERE l.id = ANY(%s) AND (%s::bigint IS NULL OR d.organisation_id = %s)"
                " ORDER BY l.id FOR UPDATE OF l",
                (list(ids), organisation_id, organisation_id),
            )
            letters = [DeadLetterRow(*row) for row in await cur.fetchall()]
        missing = sorted(set(ids) - {letter.id for letter in letters})
        if missing:
            raise ReplayError(f"no dead letter {missing[0]}", dead_letter_id=missing[0])
        for letter in letters:
            external_id = layout.device_of(letter.topic)
            if external_id is not None and devices.get(external_id) is None:
                devices.apply(await load_device(conn, external_id=external_id))
            delivery = Delivery(letter.topic, letter.payload, 0, 0, letter.received_at.timestamp(), 0)
            batch = Batch()
            intake(batch, delivery, layout=layout, devices=devices, metric_ids=metric_ids)
            rejected = tuple((dead.reason, dead.message) for dead in batch.dead)
            batch.dead.clear()  # a replay records its outcome on the letter, never a new letter
            written = await write_batch(conn, batch, upserts(batch), max_dead_payload=0)
            outcome = ReplayOutcome(
                id=letter.id,
                stored=written.inserted,
                duplicates=written.duplicates,
                rejected=rejected,
                result=_result(written.inserted, written.duplicates, rejected),
            )
            await conn.execute(
                "UPDATE dead_letters SET replayed_at = now(), replay_result = %s WHERE id = %s",
                (outcome.result, letter.id),
            )
            outcomes.append(outcome)
    return outcomes


def purge_dead_letters(conn: psycopg.Connection[Any], *, older_than: timedelta) -> int:
    """Delete dead letters received more than ``older_than`` ago; returns how many (their counts stay
    in the rejection metrics)."""
    cur = conn.execute("DELETE FROM dead_letters WHERE received_at < now() - %s", (older_than,))
    return cur.rowcount
