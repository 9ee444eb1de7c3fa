"""Alert events onto the live streams: each committed event becomes an ``alert`` frame in the hub.

Owns :func:`follow`: ``alerts.events.follow`` reads the events as they commit (the SQL is the
alerts package's); this module renders each as one ``{"type": "alert", "event", "alert"}`` frame and
hands it to the hub, which queues it for every client whose filter takes it.
"""

from __future__ import annotations

import dataclasses

import orjson

from alerts import events, service
from api.hub import Hub


async def follow(*, database_url: str, hub: Hub) -> None:
    """Forward alert events to ``hub`` until cancelled."""

    def on_event(event: service.EventRow, alert: service.AlertRow) -> None:
        frame = orjson.dumps(
            {"type": "alert", "event": dataclasses.asdict(event), "alert": dataclasses.asdict(alert)}
        )
        device = alert.subject if alert.subject_kind == "device" else None
        hub.publish_alert(
            frame, organisation_id=alert.organisation_id, sector=alert.sector, area=alert.area, device=device
        )

    def on_listening(up: bool) -> None:
        hub.alerts_following = up

    await events.follow(database_url=database_url, on_event=on_event, on_listening=on_listening)
