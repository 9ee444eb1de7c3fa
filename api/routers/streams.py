"""``/v1/streams/readings``: normalised readings as ingest commits them, over WebSocket or SSE.

Fed by one MQTT subscription per API process to the ingest fan-out topics (``api.mqtt_feed``), so
any number of replicas serve streams without polling the database; ``api.hub.Hub`` filters and
queues per client (each reading's organisation comes with the fan-out message). The key comes as
``Authorization: Bearer`` or, for browsers (``EventSource`` and
``WebSocket`` cannot set headers), as ``?key=``. A non-admin key receives only its own
organisation's devices. Frames are JSON (docs/dashboard.md): ``hello``, ``readings`` (the client's
running ``dropped`` count and columnar ``chunks``), ``alert`` (an alert opened, acknowledged or
resolved, from ``api.alert_feed``), ``status`` (the broker feed went up or down) and ``heartbeat``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import psycopg
from fastapi import APIRouter, Depends, FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from psycopg_pool import AsyncConnectionPool

from api.alert_feed import follow as follow_alerts
from api.auth import Principal
from api.fields import Sector
from api.hub import Hub, HubFullError, StreamFilter, Subscriber
from api.mqtt_feed import Feed
from api.problems import COMMON, Problem, responses
from firmware_contracts.vocabulary import CODE, DEVICE_ID, METRIC
from hatang.settings import Settings
from registry import NotFoundError, area_codes_under, authenticate, get_device, get_organisation
from timeseries import MissingError, metric_id

router = APIRouter(tags=["streams"])

PATH = "/v1/streams/readings"
# How often a client's queue is flushed: fewer, larger frames under load, at most this much added lag.
COALESCE_S = 0.1

SectorQuery = Annotated[Sector | None, Query(description="Only this sector.")]
AreaQuery = Annotated[str | None, Query(pattern=CODE, max_length=63, description="Area and descendants.")]
OrganisationQuery = Annotated[
    str | None, Query(pattern=CODE, max_length=63, description="Organisation slug.")
]
DeviceQuery = Annotated[
    str | None, Query(pattern=DEVICE_ID, max_length=64, description="One device.")
]
MetricQuery = Annotated[
    str | None, Query(pattern=METRIC, max_length=63, description="One metric.")
]
KeyQuery = Annotated[
    str | None, Query(max_length=200, description="The API key, for browsers (else the header).")
]


def _hub(app: Any) -> Hub:
    found: Hub = app.state.stream_hub
    return found


def _pool(app: Any) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    found: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = app.state.pool
    return found


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One hub and one broker subscription per process."""
    settings: Settings = app.state.settings
    hub = Hub(
        prefix=settings.topic_prefix,
        queue_size=settings.streams.queue_size,
        max_clients=settings.streams.max_clients,
    )
    app.state.stream_hub = hub
    feed = Feed(
        url=app.state.mqtt_url, topic_filter=hub.topic_filter, on_message=hub.publish, on_status=hub.set_feed
    )
    tasks = [
        asyncio.create_task(feed.run()),
        asyncio.create_task(follow_alerts(database_url=app.state.database_url, hub=hub)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _token(authorization: str | None, key: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return key


@dataclass(frozen=True, slots=True)
class _Query:
    """The query parameters both transports take."""

    key: str | None
    sector: str | None
    area: str | None
    organisation: str | None
    device: str | None
    metric: str | None


def _query(
    *,
    key: KeyQuery = None,
    sector: SectorQuery = None,
    area: AreaQuery = None,
    organisation: OrganisationQuery = None,
    device: DeviceQuery = None,
    metric: MetricQuery = None,
) -> _Query:
    return _Query(key=key, sector=sector, area=area, organisation=organisation, device=device, metric=metric)


Filters = Annotated[_Query, Depends(_query)]


async def _filter(app: Any, *, token: str | None, query: _Query) -> StreamFilter:
    """Authenticate and resolve the request's filters (``Problem`` when they cannot be served)."""
    if not token:
        raise Problem("unauthorized", "send `Authorization: Bearer <key>` or `?key=<key>`")
    async with _pool(app).connection() as conn:
        found = await authenticate(conn, token=token)
        if found is None:
            raise Problem("unauthorized", "the key is unknown or revoked")
        principal = Principal(
            key_id=found.id, organisation_id=found.organisation_id, organisation=found.organisation,
            role=found.role, name=found.name,
        )  # fmt: skip
        organisation_id = principal.within
        if query.organisation is not None:
            found_org = await get_organisation(conn, slug=query.organisation, within=principal.within)
            organisation_id = found_org.id
        areas = None if query.area is None else await area_codes_under(conn, code=query.area)
        if query.device is not None:
            await get_device(conn, external_id=query.device, within=principal.within)
        if query.metric is not None:
            await metric_id(conn, query.metric)
    return StreamFilter(
        sector=query.sector, areas=areas, organisation_id=organisation_id, device=query.device,
        metric=query.metric,
    )  # fmt: skip


def _hello(hub: Hub, subscriber: Subscriber) -> bytes:
    flt = subscriber.filter
    return orjson.dumps(
        {
            "type": "hello",
            "queue_size": subscriber.capacity,
            "feed": "connected" if hub.feed_connected else "disconnected",
            "filter": {"sector": flt.sector, "areas": sorted(flt.areas) if flt.areas is not None else None,
                       "device": flt.device, "metric": flt.metric},
        }
    )  # fmt: skip


async def _frames(hub: Hub, subscriber: Subscriber, heartbeat_s: float) -> AsyncIterator[tuple[str, bytes]]:
    """``(event, data)`` pairs for one client until it goes: readings, feed status, heartbeats.

    The client's queue is looked at every ``COALESCE_S``: one timer per client, no task per wake-up,
    and under load one frame carries everything that arrived meanwhile.
    """
    yield "hello", _hello(hub, subscriber)
    feed = hub.feed_connected
    quiet = 0.0
    while True:
        await asyncio.sleep(COALESCE_S)
        if hub.feed_connected != feed:
            feed = hub.feed_connected
            yield "status", b'{"type":"status","feed":"%b"}' % (b"connected" if feed else b"disconnected")
        while subscriber.alerts:
            quiet = 0.0
            yield "alert", subscriber.alerts.popleft()
        if subscriber.chunks:
            quiet = 0.0
            chunks = subscriber.take()
            yield "readings", subscriber.frame(chunks)
            continue
        quiet += COALESCE_S
        if quiet >= heartbeat_s:
            quiet = 0.0
            yield "heartbeat", b'{"type":"heartbeat","dropped":%d,"feed":"%b"}' % (
                subscriber.dropped, b"connected" if hub.feed_connected else b"disconnected",
            )  # fmt: skip


@router.get(
    PATH,
    summary="Live readings as Server-Sent Events (the same path upgrades to a WebSocket)",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "Events `hello`, `readings`, `alert`, `status`, `heartbeat`",
        },
        **responses(*COMMON, "not-found", "unavailable"),
    },
)
async def stream_sse(*, request: Request, query: Filters) -> StreamingResponse:
    hub = _hub(request.app)
    settings: Settings = request.app.state.settings
    stream_filter = await _filter(request.app, token=_token(request.headers.get("authorization"), query.key),
                                  query=query)  # fmt: skip
    try:
        subscriber = hub.subscribe(stream_filter)
    except HubFullError as exc:
        raise Problem("unavailable", str(exc)) from None

    async def body() -> AsyncIterator[bytes]:
        try:
            async for event, data in _frames(hub, subscriber, settings.streams.heartbeat_s):
                yield b"event: %b\ndata: %b\n\n" % (event.encode(), data)
        finally:
            hub.unsubscribe(subscriber)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.websocket(PATH)
async def stream_ws(websocket: WebSocket, *, query: Filters) -> None:
    hub = _hub(websocket.app)
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    try:
        token = _token(websocket.headers.get("authorization"), query.key)
        stream_filter = await _filter(websocket.app, token=token, query=query)
        subscriber = hub.subscribe(stream_filter)
    except (Problem, NotFoundError, MissingError, HubFullError) as exc:
        missing = isinstance(exc, NotFoundError | MissingError)
        status = 503 if isinstance(exc, HubFullError) else 404 if missing else 401
        if isinstance(exc, Problem):
            status = exc.kind.status
        error = {"type": "error", "status": status, "detail": str(exc)}
        await websocket.send_text(orjson.dumps(error).decode())
        await websocket.close(code=4000 + status)
        return

    async def send() -> None:
        async for _, data in _frames(hub, subscriber, settings.streams.heartbeat_s):
            await websocket.send_text(data.decode())

    async def receive() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # clients say nothing; this notices them leaving

    sender, receiver = asyncio.create_task(send()), asyncio.create_task(receive())
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        hub.unsubscribe(subscriber)
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


