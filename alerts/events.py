"""Alert events as they commit: ``LISTEN hatang_alert_events`` in, (event, alert) pairs out.

Owns :func:`follow`, the one loop that turns the ``alert_events`` trigger's notifications
(migration 0800: the new event's id, sent when its transaction commits) into rows, read through
``alerts.service``, and hands each to a callback. The API's streams use it (``api.alert_feed``);
it does not know who sees what.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg

from alerts import service

log = logging.getLogger("hatang.alerts")

_RETRY_S = 2.0


async def follow(
    *,
    database_url: str,
    on_event: Callable[[service.EventRow, service.AlertRow], None],
    on_listening: Callable[[bool], None],
) -> None:
    """Call ``on_event`` for each committed alert event until cancelled; reconnect after a loss."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True, application_name="hatang-alert-events"
            ) as conn:
                await conn.execute("LISTEN hatang_alert_events")
                on_listening(True)
                while True:
                    notes = [note.payload async for note in conn.notifies(timeout=1.0)]
                    for event_id in (int(p) for p in notes if p.isdigit()):
                        found = await service.event_by_id(conn, event_id=event_id)
                        if found is not None:
                            on_event(*found)
        except psycopg.Error as exc:
            on_listening(False)
            log.warning("alert events: database lost; retrying", extra={"error": str(exc)})
            await asyncio.sleep(_RETRY_S)
