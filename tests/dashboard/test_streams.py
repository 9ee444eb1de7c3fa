"""Live streams: the hub's filters and bounded queues, and WebSocket/SSE clients fed over real MQTT."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from api.hub import Hub, StreamFilter
from hatang.settings import Settings
from tests.plugins.api import Keys
from tests.plugins.ingest import publish
from tests.plugins.timeseries import Fleet

PREFIX = "p/v1"


def _message(
    devices: list[str], metrics: list[str], values: list[float], owners: list[int] | None = None
) -> bytes:
    """A fan-out message as ingest publishes it (``owners``: its organisation column; None: an older
    worker's message, without the column)."""
    doc: dict[str, Any] = {"batch": 1, "device": devices, "metric": metrics,
                           "time": [1.7e9 + i for i in range(len(devices))], "value": values}  # fmt: skip
    if owners is not None:
        doc["organisation"] = owners
    return orjson.dumps(doc)


def _readings(hub_frames: list[bytes]) -> list[tuple[str, str, str, float]]:
    out = []
    for frame in hub_frames:
        chunk = orjson.loads(frame)
        pairs = zip(chunk["device"], chunk["value"], strict=True)
        out += [(chunk["sector"], chunk["area"], d, v) for d, v in pairs]
    return out


def test_slices_and_per_reading_filters() -> None:
    hub = Hub(prefix=PREFIX, queue_size=100, max_clients=10)
    everyone = hub.subscribe(StreamFilter())
    water = hub.subscribe(StreamFilter(sector="water"))
    tu_son = hub.subscribe(StreamFilter(areas=frozenset({"tu-son", "dong-ngan"})))
    org_1 = hub.subscribe(StreamFilter(organisation_id=1))
    level = hub.subscribe(StreamFilter(metric="water_level"))
    hub.publish(f"{PREFIX}/normalized/water/dong-ngan",
                _message(["wq-1", "wq-1", "wq-9"], ["water_ph", "water_level", "water_ph"], [7.1, 2.5, 6.9],
                         [1, 1, 3]))
    hub.publish(f"{PREFIX}/normalized/transport/que-vo", _message(["loop-1"], ["traffic_flow"], [120], [2]))
    assert len(_readings(everyone.take())) == 4
    assert [r[2:] for r in _readings(water.take())] == [("wq-1", 7.1), ("wq-1", 2.5), ("wq-9", 6.9)]
    assert {r[1] for r in _readings(tu_son.take())} == {"dong-ngan"}
    # Each reading's organisation comes with the message: wq-9 and loop-1 are not organisation 1's.
    assert [r[2:] for r in _readings(org_1.take())] == [("wq-1", 7.1), ("wq-1", 2.5)]
    assert _readings(level.take()) == [("water", "dong-ngan", "wq-1", 2.5)]


def test_a_message_without_organisations_reaches_only_clients_that_see_every_organisation() -> None:
    hub = Hub(prefix=PREFIX, queue_size=100, max_clients=10)
    everyone = hub.subscribe(StreamFilter())
    org_1 = hub.subscribe(StreamFilter(organisation_id=1))
    ph = hub.subscribe(StreamFilter(metric="water_ph"))
    hub.publish(f"{PREFIX}/normalized/water/a", _message(["wq-1", "wq-2"], ["water_ph"] * 2, [7.0, 7.2]))
    assert [r[2:] for r in _readings(everyone.take())] == [("wq-1", 7.0), ("wq-2", 7.2)]
    assert len(_readings(ph.take())) == 2
    assert org_1.take() == []  # whose readings they are is unknown: never shown to organisation 1
    hub.publish(f"{PREFIX}/normalized/water/a", _message(["wq-1"], ["water_ph"], [7.4], [1, 1]))
    assert everyone.take() == []  # an organisation column of the wrong length: malformed, dropped


def test_a_full_queue_drops_the_oldest_and_counts_them() -> None:
    hub = Hub(prefix=PREFIX, queue_size=5, max_clients=10)
    slow = hub.subscribe(StreamFilter())
    fast = hub.subscribe(StreamFilter())
    for i in range(6):
        hub.publish(f"{PREFIX}/normalized/water/a", _message(["d1", "d2"], ["m", "m"], [i, i]))
        fast.take()
    kept = _readings(slow.take())
    assert [v for *_, v in kept] == [4, 4, 5, 5]  # the newest two chunks; four chunks dropped
    assert slow.dropped == 8
    assert fast.dropped == 0
    frame = orjson.loads(slow.frame([]))
    assert frame == {"type": "readings", "dropped": 8, "chunks": []}


def test_malformed_messages_and_topics_are_ignored() -> None:
    hub = Hub(prefix=PREFIX, queue_size=5, max_clients=1)
    client = hub.subscribe(StreamFilter())
    hub.publish(f"{PREFIX}/normalized/water/a", b"not json")
    hub.publish(f"{PREFIX}/normalized/water/a", b'{"device": ["a"], "metric": [], "time": [], "value": []}')
    hub.publish("elsewhere/water/a", _message(["d"], ["m"], [1]))
    assert client.take() == []
    with pytest.raises(RuntimeError, match="at most 1"):
        hub.subscribe(StreamFilter())


@pytest.fixture
def api_settings(topic_prefix: str) -> Settings:
    """The app under test listens on this test's own topics, with quick heartbeats."""
    return Settings(topic_prefix=topic_prefix, streams={"heartbeat_s": 0.5, "queue_size": 1000})


def _wait_feed(client: TestClient) -> None:
    """Until the API has subscribed to the fan-out."""
    hub: Hub = client.app.state.stream_hub  # type: ignore[attr-defined]
    deadline = time.monotonic() + 20
    while not hub.feed_connected:
        assert time.monotonic() < deadline, "the API never subscribed"
        time.sleep(0.05)


def _collect(
    ws: WebSocketTestSession, want: int, timeout: float = 20
) -> tuple[list[Any], list[dict[str, Any]]]:
    readings: list[Any] = []
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(readings) < want and time.monotonic() < deadline:
        frame = ws.receive_json()
        frames.append(frame)
        if frame["type"] == "readings":
            for chunk in frame["chunks"]:
                readings += list(zip(chunk["device"], chunk["metric"], chunk["value"], strict=True))
    return readings, frames


def test_websocket_clients_see_what_their_key_may_read(
    api_client: TestClient, keys: Keys, fleet: Fleet, stack: Any, topic_prefix: str
) -> None:
    _wait_feed(api_client)
    org_a, org_b = fleet.organisations["org-a"], fleet.organisations["org-b"]
    ticket_a = _ticket(api_client, keys["viewer_a"])
    with (
        api_client.websocket_connect(f"/v1/streams/readings?ticket={ticket_a}") as viewer,
        api_client.websocket_connect("/v1/streams/readings", headers=keys["admin"]) as admin,
        api_client.websocket_connect("/v1/streams/readings?sector=transport", headers=keys["admin"]) as roads,
    ):
        for ws in (viewer, admin, roads):
            hello = ws.receive_json()
            assert hello["type"] == "hello"
            assert hello["feed"] == "connected"
        # QoS 1: the broker holds both messages before the publisher leaves (it delivers them to the
        # API's QoS 0 subscription as ingest's fan-out would be).
        publish(stack.mqtt_url("ingest"), [
            (f"{topic_prefix}/normalized/water/dong-ngan",
             _message(["wq-1", "wq-2"], ["water_ph"] * 2, [7.0, 7.2], [org_a, org_a])),
            (f"{topic_prefix}/normalized/transport/que-vo",
             _message(["loop-1"], ["traffic_flow"], [300.0], [org_b])),
        ])  # fmt: skip
        got, _ = _collect(admin, 3)
        assert sorted(got) == [
            ("loop-1", "traffic_flow", 300.0), ("wq-1", "water_ph", 7.0), ("wq-2", "water_ph", 7.2)
        ]
        got, _ = _collect(roads, 1)
        assert got == [("loop-1", "traffic_flow", 300.0)]
        got, _ = _collect(viewer, 2)
        assert sorted(got) == [("wq-1", "water_ph", 7.0), ("wq-2", "water_ph", 7.2)]
        # loop-1 belongs to org-b: a viewer of org-a never receives it (a heartbeat follows, nothing else).
        frame = viewer.receive_json()
        while frame["type"] != "heartbeat":
            assert frame["type"] != "readings" or all("loop-1" not in c["device"] for c in frame["chunks"])
            frame = viewer.receive_json()


def _ticket(api_client: TestClient, headers: dict[str, str]) -> str:
    response = api_client.post("/v1/streams/tickets", headers=headers)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


def test_bad_keys_and_invisible_filters_are_refused(api_client: TestClient, keys: Keys, fleet: Fleet) -> None:
    nope = {"Authorization": "Bearer htg_nope"}
    with api_client.websocket_connect("/v1/streams/readings", headers=nope) as ws:
        assert ws.receive_json()["status"] == 401
    # The key itself in the URL is no longer a way in (it would reach logs and proxies).
    token = keys["admin"]["Authorization"].removeprefix("Bearer ")
    with api_client.websocket_connect(f"/v1/streams/readings?key={token}") as ws:
        assert ws.receive_json()["status"] == 401
    # A ticket opens one stream, once.
    ticket = _ticket(api_client, keys["admin"])
    with api_client.websocket_connect(f"/v1/streams/readings?ticket={ticket}") as ws:
        assert ws.receive_json()["type"] == "hello"
    with api_client.websocket_connect(f"/v1/streams/readings?ticket={ticket}") as ws:
        assert ws.receive_json()["status"] == 401
    assert api_client.post("/v1/streams/tickets").status_code == 401
    with api_client.websocket_connect("/v1/streams/readings?device=loop-1", headers=keys["viewer_a"]) as ws:
        assert ws.receive_json() == {"type": "error", "status": 404, "detail": "no device 'loop-1'"}
    response = api_client.get("/v1/streams/readings")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    response = api_client.get("/v1/streams/readings?area=nowhere", headers=keys["admin"])
    assert response.status_code == 404


def test_server_sent_events(
    api_client: TestClient, keys: Keys, fleet: Fleet, stack: Any, topic_prefix: str
) -> None:
    _wait_feed(api_client)
    org_a = fleet.organisations["org-a"]
    with api_client.stream("GET", "/v1/streams/readings?area=tu-son", headers=keys["operator_a"]) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == "event: hello"
        publish(stack.mqtt_url("ingest"), [
            (f"{topic_prefix}/normalized/water/que-vo", _message(["wq-2"], ["water_ph"], [6.0], [org_a])),
            (f"{topic_prefix}/normalized/water/dong-ngan", _message(["wq-1"], ["water_ph"], [7.5], [org_a])),
        ])  # fmt: skip
        for line in lines:
            if line.startswith("data: ") and '"readings"' in line:
                frame = orjson.loads(line.removeprefix("data: "))
                assert [(c["area"], c["device"], c["value"]) for c in frame["chunks"]] == [
                    ("dong-ngan", ["wq-1"], [7.5])
                ]
                break


def test_device_filters_are_indexed_and_get_only_their_device() -> None:
    hub = Hub(prefix=PREFIX, queue_size=1000, max_clients=300)
    watchers = {i: hub.subscribe(StreamFilter(device=f"d-{i}")) for i in range(200)}
    ph_of_7 = hub.subscribe(StreamFilter(device="d-7", metric="water_ph"))
    org_2_of_8 = hub.subscribe(StreamFilter(device="d-8", organisation_id=2))
    org_1_of_8 = hub.subscribe(StreamFilter(device="d-8", organisation_id=1))
    water_only = hub.subscribe(StreamFilter(device="d-9", sector="water"))
    devices = [f"d-{i % 50}" for i in range(100)]
    metrics = ["water_ph" if i % 2 else "water_level" for i in range(100)]
    values = [float(i) for i in range(100)]
    owners = [1 + (i % 50) % 2 for i in range(100)]  # even devices: organisation 1
    hub.publish(f"{PREFIX}/normalized/transport/que-vo", _message(devices, metrics, values, owners))
    assert [r[2:] for r in _readings(watchers[3].take())] == [("d-3", 3.0), ("d-3", 53.0)]
    assert _readings(watchers[120].take()) == []  # watched, but not in this message
    assert [r[3] for r in _readings(ph_of_7.take())] == [7.0, 57.0]
    assert [r[3] for r in _readings(org_2_of_8.take())] == []  # d-8 belongs to organisation 1
    assert [r[3] for r in _readings(org_1_of_8.take())] == [8.0, 58.0]
    assert _readings(water_only.take()) == []  # a transport slice
    for subscriber in [*watchers.values(), ph_of_7, org_2_of_8, org_1_of_8, water_only]:
        hub.unsubscribe(subscriber)
    assert (hub.by_device, hub.others, hub.subscribers) == ({}, set(), set())
