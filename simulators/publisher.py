"""The one publishing engine: many MQTT 5 device connections per process, paced by a token schedule.

Owns :class:`BrokerAddress`/:func:`parse_url`, :class:`FanoutListener` (the latency probe on
ingest's ``<prefix>/normalized/#`` fan-out), :class:`Connections` (one paho client per device,
all driven by one ``selectors`` loop of the process: no thread per connection) and
:func:`publish_schedule`, which sends ``rate × duration`` messages on a token schedule (message
``n`` is due at ``start + n/rate``; a worker that falls behind sends its backlog at once rather than
sleeping per message) and counts what the broker acknowledged. Every paho import of the
simulators is here. It must not build payloads (the caller's ``next_message`` does) nor read the
database. Why paho and not aiomqtt, and how connections are multiplexed: docs/load-testing.md.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from simulators.errors import PublishError

_CONNECT_CHUNK = 64  # connections opened before waiting for their CONNACKs (the broker's backlog)
_MAX_BURST = 2000  # messages sent before the loop looks at the sockets again
_RECONNECT_FIRST_S, _RECONNECT_MAX_S = 1.0, 30.0  # a lost connection's retries: doubling between these
_INFLIGHT = 10000  # QoS 1 messages a client keeps unacknowledged (the broker allows 20,000)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where to connect."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:port`` as a :class:`BrokerAddress` (port 1883 by default)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise PublishError(f"not an mqtt:// URL: {parts.scheme}://{parts.hostname or ''}", reason="bad_url")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or 1883,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


@dataclass(slots=True)
class Tally:
    """What one engine sent and what the broker acknowledged (QoS 0: written to the socket)."""

    sent: int = 0
    acked: int = 0
    refused: int = 0  # PUBACK with a failure reason code (>= 0x80), or paho could not queue it
    refusals: dict[str, int] = field(default_factory=dict)  # why, by reason code or paho error
    readings_acked: int = 0
    dead_acked: dict[str, int] = field(default_factory=dict)
    faults_acked: dict[str, int] = field(default_factory=dict)
    behind_max_s: float = 0.0


class Connections:
    """One MQTT 5 connection per identity (a device, or the service account), one loop for all."""

    def __init__(self, address: BrokerAddress, *, qos: int, client_prefix: str, tally: Tally) -> None:
        self._address = address
        self._qos = qos
        self._client_prefix = client_prefix
        self._tally = tally
        self._selector = selectors.DefaultSelector()
        self._clients: list[paho.Client] = []
        self._writing: set[int] = set()
        self._connected: dict[int, ReasonCode | None] = {}
        self._pending: list[dict[int, tuple[int, tuple[str, ...], str | None]]] = []
        self._sockets: dict[int, socket.socket] = {}  # what the selector holds, per client
        self._lost: dict[int, tuple[float, float]] = {}  # client -> (next attempt, current wait)

    # -- connecting -------------------------------------------------------------------------------

    def _client(self, username: str, password: str | None) -> paho.Client:
        index = len(self._clients)
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{username}-{self._client_prefix}",
            protocol=paho.MQTTv5,
            userdata=index,
        )
        client.username_pw_set(username, password)
        client.max_inflight_messages_set(_INFLIGHT)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        self._clients.append(client)
        self._pending.append({})
        return client

    def _on_connect(
        self, client: paho.Client, index: int, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        self._connected[index] = reason

    def _on_publish(self, client: paho.Client, index: int, mid: int, reason: ReasonCode, props: Any) -> None:
        entry = self._pending[index].pop(mid, None)
        if entry is None:
            return
        tally = self._tally
        if reason.is_failure:
            tally.refused += 1
            tally.refusals[str(reason)] = tally.refusals.get(str(reason), 0) + 1
            return
        readings, dead, fault = entry
        tally.acked += 1
        tally.readings_acked += readings
        for reason_code in dead:
            tally.dead_acked[reason_code] = tally.dead_acked.get(reason_code, 0) + 1
        if fault is not None:
            tally.faults_acked[fault] = tally.faults_acked.get(fault, 0) + 1

    def connect(
        self, identities: Sequence[tuple[str, str | None]], *, timeout_s: float = 60.0,
        address: BrokerAddress | None = None,
    ) -> list[int]:  # fmt: skip
        """Connect every ``(username, password)`` (to ``address``, default the devices' broker address);
        returns their indexes. Raises if the broker refuses one."""
        address = self._address if address is None else address
        first = len(self._clients)
        deadline = time.monotonic() + timeout_s
        for start in range(0, len(identities), _CONNECT_CHUNK):
            batch = identities[start : start + _CONNECT_CHUNK]
            chunk = [self._client(user, password) for user, password in batch]
            for client in chunk:
                try:
                    client.connect(address.host, address.port, keepalive=60, clean_start=True)
                except OSError as exc:
                    raise PublishError(f"cannot reach the broker: {exc}", reason="unreachable") from exc
                self._register(client)
                self._after_io(client)
            waiting = {client._userdata for client in chunk}
            while waiting - self._connected.keys():
                if time.monotonic() > deadline:
                    raise PublishError("the broker did not answer every CONNECT in time", reason="timeout")
                self.poll(0.05)
        refused = [(i, r) for i, r in self._connected.items() if r is not None and r.is_failure]
        if refused:
            i, reason = refused[0]
            user = self._clients[i]._username
            raise PublishError(
                f"the broker refused {len(refused)} connection(s), e.g. {user!r}: {reason}", reason="refused"
            )
        return list(range(first, len(self._clients)))

    def connected(self, index: int) -> bool:
        """Whether connection ``index`` is up (its CONNACK accepted it and its socket is open)."""
        reason = self._connected.get(index)
        return reason is not None and not reason.is_failure and index in self._sockets

    # -- the loop ---------------------------------------------------------------------------------

    def _register(self, client: paho.Client) -> None:
        """Watch ``client``'s socket. A descriptor still registered belongs to a socket paho has closed
        (a refused or lost connection) and since reused by the system: that stale entry goes first."""
        index: int = client._userdata
        sock = client.socket()
        assert isinstance(sock, socket.socket)
        self._forget(index)
        for key in list(self._selector.get_map().values()):
            if key.fd == sock.fileno():  # the stale entry of a closed socket whose descriptor was reused
                self._selector.unregister(key.fileobj)
                self._sockets = {i: s for i, s in self._sockets.items() if s is not key.fileobj}
        self._selector.register(sock, selectors.EVENT_READ, client)
        self._sockets[index] = sock
        self._writing.discard(index)

    def _forget(self, index: int) -> None:
        sock = self._sockets.pop(index, None)
        if sock is not None:
            # Looked up by identity: a socket paho has closed has no descriptor any more.
            for key in list(self._selector.get_map().values()):
                if key.fileobj is sock:
                    self._selector.unregister(key.fileobj)
        self._writing.discard(index)

    def _after_io(self, client: paho.Client) -> None:
        index: int = client._userdata
        sock = client.socket()
        if sock is None:  # closed by paho: refused, or the connection was lost
            if index in self._sockets:
                self._forget(index)
                reason = self._connected.get(index)
                if reason is not None and not reason.is_failure:  # it was up: try again, with backoff
                    self._lost[index] = (time.monotonic() + _RECONNECT_FIRST_S, _RECONNECT_FIRST_S)
            return
        if client.want_write():
            if index not in self._writing:
                self._selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)
                self._writing.add(index)
        elif index in self._writing:
            self._selector.modify(sock, selectors.EVENT_READ, client)
            self._writing.discard(index)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for socket events and serve them."""
        for key, mask in self._selector.select(timeout):
            client: paho.Client = key.data
            if mask & selectors.EVENT_READ:
                client.loop_read()
            if mask & selectors.EVENT_WRITE:
                client.loop_write()
            self._after_io(client)

    def keepalive(self) -> None:
        """paho's housekeeping (PINGREQ when idle) for every client, and reconnection of lost ones
        (a broker restart) with backoff; call about once a second."""
        for client in self._clients:
            client.loop_misc()
            self._after_io(client)  # notices a connection paho has just dropped
        now = time.monotonic()
        for index, (due, wait) in list(self._lost.items()):
            if now < due:
                continue
            client = self._clients[index]
            try:
                client.reconnect()
            except OSError:
                longer = min(wait * 2, _RECONNECT_MAX_S)
                self._lost[index] = (now + longer, longer)
                continue
            del self._lost[index]
            self._connected.pop(index, None)
            self._pending[index].clear()  # unacknowledged at QoS 1 before the loss: not counted as acked
            self._register(client)
            self._after_io(client)

    def publish(self, index: int, topic: str, payload: bytes, *, readings: int, dead: tuple[str, ...],
                fault: str | None) -> None:  # fmt: skip
        """Publish on connection ``index``; the outcome is counted when the broker acknowledges it."""
        client = self._clients[index]
        info = client.publish(topic, payload, qos=self._qos)
        self._tally.sent += 1
        if info.rc != paho.MQTT_ERR_SUCCESS:
            self._tally.refused += 1
            name = paho.error_string(info.rc)
            self._tally.refusals[name] = self._tally.refusals.get(name, 0) + 1
            return
        if info.is_published():  # QoS 0 written at once: on_publish ran before we could note it
            self._tally.acked += 1
            self._tally.readings_acked += readings
            for reason_code in dead:
                self._tally.dead_acked[reason_code] = self._tally.dead_acked.get(reason_code, 0) + 1
            if fault is not None:
                self._tally.faults_acked[fault] = self._tally.faults_acked.get(fault, 0) + 1
        else:
            self._pending[index][info.mid] = (readings, dead, fault)
        self._after_io(client)

    def unacknowledged(self) -> int:
        """Messages published but not yet acknowledged (or, at QoS 0, not yet written)."""
        return sum(len(p) for p in self._pending)

    def drain(self, timeout_s: float) -> None:
        """Serve the sockets until every message is acknowledged or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        last_misc = time.monotonic()
        while self.unacknowledged() and time.monotonic() < deadline:
            self.poll(0.05)
            if time.monotonic() - last_misc > 1.0:
                self.keepalive()
                last_misc = time.monotonic()

    def close(self) -> None:
        """Disconnect every client cleanly and close the loop."""
        self._lost.clear()
        for client in self._clients:
            if client.socket() is not None:
                client.disconnect()
        self._selector.close()


def publish_schedule(
    connections: Connections,
    *,
    rate: float,
    duration_s: float,
    start_monotonic: float,
    next_message: Callable[[float, float], None],
    progress: Callable[[float], None] | None = None,
) -> None:
    """Call ``next_message(wall_now, elapsed)`` on a token schedule of ``rate`` per second.

    Message ``n`` is due at ``start + n/rate``: the loop sends whatever is due (at most
    ``_MAX_BURST`` before serving sockets), then waits on the sockets until the next token.
    ``progress(elapsed)`` runs about four times a second.
    """
    total = int(rate * duration_s)
    sent = 0
    last_misc = last_progress = time.monotonic()
    tally = connections._tally
    while sent < total:
        now = time.monotonic()
        elapsed = now - start_monotonic
        due = min(total, int(elapsed * rate) + 1) if elapsed >= 0 else 0
        if due > sent:
            behind = elapsed - sent / rate
            tally.behind_max_s = max(tally.behind_max_s, behind)
            wall = time.time()
            for _ in range(min(due - sent, _MAX_BURST)):
                next_message(wall, elapsed)
                sent += 1
            timeout = 0.0
        else:
            timeout = max(0.0, min(0.1, sent / rate - elapsed))
        connections.poll(timeout)
        if now - last_misc > 1.0:
            connections.keepalive()
            last_misc = now
        if progress is not None and now - last_progress > 0.25:
            progress(elapsed)
            last_progress = now
    if progress is not None:
        progress(time.monotonic() - start_monotonic)


class FanoutListener:
    """Subscribes to ingest's fan-out and records, per device of ``devices`` in each fan-out message,
    the seconds from its newest reading's time to the message's arrival (publish → commit → fan-out).

    A fan-out message is published right after its batch commits, so this is the commit latency
    plus one loopback hop; reading times are the publishers' send times (docs/load-testing.md).
    """

    def __init__(
        self, address: BrokerAddress, *, topic_prefix: str, devices: set[str], client_id: str
    ) -> None:
        self._devices = devices
        self._topic = f"{topic_prefix}/normalized/#"
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self._subscribed = threading.Event()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        self._client.username_pw_set(address.username, address.password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._address = address

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any
    ) -> None:
        if not reason.is_failure:
            client.subscribe(self._topic, qos=0)

    def _on_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        arrived = time.time()
        try:
            doc = orjson.loads(message.payload)
            pairs = zip(doc["device"], doc["time"], strict=True)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return
        newest: dict[str, float] = {}
        for device, at in pairs:
            if device in self._devices and at > newest.get(device, 0.0):
                newest[device] = at
        with self._lock:
            self.latencies.extend(arrived - at for at in newest.values())

    def __enter__(self) -> FanoutListener:
        self._client.connect(self._address.host, self._address.port, keepalive=30)
        self._client.loop_start()
        if not self._subscribed.wait(10.0):
            self.__exit__(None, None, None)
            raise PublishError("could not subscribe to the fan-out", reason="timeout")
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()
