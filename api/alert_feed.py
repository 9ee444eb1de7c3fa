"""Alert events onto the live streams: ``NOTIFY hatang_alert_events`` in, hub frames out.

Owns :func:`follow`. The ``alert_events`` trigger (migration 0800) notifies each event's id after
its transaction commits; this loop LISTENs on a connection of its own, reads each event and its alert
through ``alerts.service`` and hands one ``{"type": "alert", ...}`` frame to the hub, which queues it
for every client whose filter takes it. It must not decide who sees what (the hub's filters do).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import orjson
import psycopg

from alerts import service
from api.streams import Hub

log = logging.getLogger("hatang.api.streams")

_RETRY_S = 2.0


async def follow(*, database_url: str, hub: Hub) -> None:
    """Forward alert events to ``hub`` until cancelled; reconnect after a lost database."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                database_url, autocommit=True, application_name="hatang-api-alerts"
            ) as conn:
                await conn.execute("LISTEN hatang_alert_events")
                hub.alerts_following = True
                while True:
                    notes = [note.payload async for note in conn.notifies(timeout=1.0)]
                    for event_id in (int(p) for p in notes if p.isdigit()):
                        found = await service.event_by_id(conn, event_id=event_id)
                        if found is None:
                            continue
                        event, alert = found
                        doc = {"type": "alert", "event": dataclasses.asdict(event)}
                        doc["alert"] = dataclasses.asdict(alert)
                        hub.publish_alert(
                            orjson.dumps(doc), organisation_id=alert.organisation_id, sector=alert.sector,
                            area=alert.area, device=alert.subject if alert.subject_kind == "device" else None,
                        )  # fmt: skip
        except psycopg.Error as exc:
            hub.alerts_following = False
            log.warning("alert events: database lost; retrying", extra={"error": str(exc)})
            await asyncio.sleep(_RETRY_S)
