"""The one adapter over aiomqtt (and the paho client it wraps): every MQTT import of ingest is here.

Owns :class:`Consumer`, a persistent-session MQTT 5 subscriber whose messages are acknowledged only
when the caller says so (after the batch holding them has committed), and :func:`parse_url`.
It must not decode payloads, touch the database or decide what a message means.

Why it reaches into aiomqtt 2.x internals (pinned ``<3``; docs/ingest.md):
- aiomqtt has no manual-ack API (its issue #345): paho's ``manual_ack_set(True)`` is switched on
  *before* connecting, or paho acknowledges the persistent session's backlog, which arrives right
  after CONNACK, before anything is stored.
- aiomqtt's message iterator costs a task and a queue hop per message and its queue may discard;
  paho's PUBLISH handler builds a message object, parses every property and formats a debug line:
  paho's ``_handle_publish`` is replaced by :func:`decode_publish` appending to a plain list, bounded
  by Receive Maximum (paho 2.x internals: paho and aiomqtt are pinned exactly in pyproject.toml).
- paho reads a packet with three or more ``recv`` calls: the socket is wrapped so that one ``recv``
  fills a buffer the packets are then parsed from, and reading pauses while the list is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.delivery import Delivery
from ingest.errors import BrokerError

log = logging.getLogger("hatang.ingest.mqtt")

_READ_CHUNK = 256 * 1024
# A PUBACK without reason code or properties (success, MQTT 5 §3.4.2.1): type, length 2, packet id.
_PUBACK = struct.Struct("!BBH")
_PUBACK_BYTE = 0x40


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where and as whom to connect."""

    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool = False


def parse_url(url: str) -> BrokerAddress:
    """``mqtt://user:pass@host:port`` (port 1883) or ``mqtts://...`` (TLS, port 8883)."""
    parts = urlsplit(url)
    tls = parts.scheme in ("mqtts", "ssl")
    if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl") or not parts.hostname:
        raise BrokerError(f"not an mqtt:// URL: {parts.scheme}://{parts.hostname or ''}", reason="bad_url")
    return BrokerAddress(
        host=parts.hostname,
        port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def decode_publish(command: int, packet: bytes | bytearray) -> tuple[str, bytes, int, int] | None:
    """An MQTT 5 PUBLISH's ``(topic, payload, packet id, qos)``; None for QoS 2 (paho handles it).

    The properties are skipped, not parsed: ingest needs none of them, and the broker sends no topic
    alias because the client announces no Topic Alias Maximum. A topic that is not UTF-8 (the
    broker refuses those) is decoded with replacement characters rather than failing.
    """
    qos = (command & 0x06) >> 1
    if qos == 2:
        return None
    end = 2 + int.from_bytes(packet[0:2], "big")
    topic = packet[2:end].decode("utf-8", "replace")
    mid = 0
    if qos:
        mid = int.from_bytes(packet[end : end + 2], "big")
        end += 2
    length, shift = 0, 0
    while True:  # the properties' length, a variable byte integer
        byte = packet[end]
        end += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    return topic, bytes(packet[end + length :]), mid, qos


class _BufferedSocket:
    """A non-blocking socket whose ``recv`` is served from one large read (paho asks byte by byte)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._buf):
            data = self._sock.recv(_READ_CHUNK)  # BlockingIOError passes through, as paho expects
            if not data:
                return b""
            self._buf, self._pos = data, 0
        end = min(self._pos + size, len(self._buf))
        chunk = self._buf[self._pos : end]
        self._pos = end
        return chunk

    def pending(self) -> int:
        # TLS: a record decrypted beyond what recv returned waits inside the SSL object.
        inner = self._sock.pending() if isinstance(self._sock, ssl.SSLSocket) else 0
        return len(self._buf) - self._pos + inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Consumer:
    """An MQTT 5 subscriber with a persistent session and acknowledgements after commit.

    Use as ``async with``; ``wait``/``take`` hand over what arrived, ``ack`` acknowledges. Messages
    taken but never acknowledged come back (from the broker) after a reconnect.
    """

    def __init__(
        self,
        *,
        url: str,
        client_id: str,
        topic_filter: str,
        session_expiry_s: int,
        receive_maximum: int,
        queue_bound: int,
        subscribe_timeout_s: float,
        session: int = 0,
        keepalive_s: int = 30,
        leave: bool = False,
    ) -> None:
        self._address = parse_url(url)
        self._client_id = client_id
        self._topic_filter = topic_filter
        self._session_expiry_s = session_expiry_s
        # Receive Maximum is the bound the broker enforces on QoS 1: never more than the queue holds.
        self._receive_maximum = max(1, min(receive_maximum, queue_bound, 65535))
        self._queue_bound = queue_bound
        self._subscribe_timeout_s = subscribe_timeout_s
        self._keepalive_s = keepalive_s
        self.session = session
        self._inbox: list[Delivery] = []
        self._arrived = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._paho: paho.Client | None = None
        self._sock: _BufferedSocket | None = None
        self._paused = False
        self._closed = False
        self._subscribe_task: asyncio.Task[Any] | None = None
        self._loop = asyncio.get_running_loop()
        # Leaving the group (``hatang ingest --leave``): unsubscribe instead of subscribing, so the
        # broker routes nothing new to this session while what it had queued is drained.
        self._leave = leave
        self.unsubscribed = asyncio.Event()
        self.last_delivery = time.monotonic()

    # -- connection -------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Connect (clean start off), then subscribe in the background (SUBACK queues behind a backlog)."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._session_expiry_s
        properties.ReceiveMaximum = self._receive_maximum
        address = self._address
        client = aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=self._client_id,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=properties,
            keepalive=self._keepalive_s,
            max_queued_incoming_messages=0,  # unbounded; and unused: on_message is replaced below
            timeout=30,
            # The system's CA store (SSL_CERT_FILE / SSL_CERT_DIR select another, as in the chart).
            tls_context=ssl.create_default_context() if address.tls else None,
        )
        inner: paho.Client = client._client
        inner.manual_ack_set(True)  # before connecting: the session's backlog follows CONNACK at once
        inner.on_message = self._on_message  # QoS 2 only (never subscribed to): paho's own path
        inner.disable_logger()  # paho formats a debug line per packet otherwise
        paho_publish = inner._handle_publish
        inner._handle_publish = lambda: self._handle_publish(inner, paho_publish)  # type: ignore[method-assign]
        aiomqtt_open = inner.on_socket_open
        inner.on_socket_open = lambda c, userdata, sock: self._on_socket_open(aiomqtt_open, c, userdata, sock)
        self._client, self._paho = client, inner
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            where = f"{address.host}:{address.port}"
            raise BrokerError(f"cannot connect to {where}: {exc}", reason="connect") from exc
        self._subscribe_task = asyncio.create_task(self._unsubscribe() if self._leave else self._subscribe())
        return self

    async def _unsubscribe(self) -> None:
        assert self._client is not None
        await self._client.unsubscribe(self._topic_filter, timeout=self._subscribe_timeout_s)
        log.info("unsubscribed", extra={"topic_filter": self._topic_filter, "client_id": self._client_id})
        self.unsubscribed.set()

    async def _subscribe(self) -> None:
        assert self._client is not None
        codes = await self._client.subscribe(self._topic_filter, qos=1, timeout=self._subscribe_timeout_s)
        bad = [code for code in codes if getattr(code, "value", code) >= 0x80]
        if bad:
            raise BrokerError(f"subscription to {self._topic_filter} refused: {bad}", reason="subscribe")
        log.info("subscribed", extra={"topic_filter": self._topic_filter, "client_id": self._client_id})

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Disconnect normally: the session, and every unacknowledged message, stays with the broker."""
        self._closed = True
        if self._subscribe_task is not None:
            self._subscribe_task.cancel()
            with contextlib.suppress(BaseException):
                await self._subscribe_task
        if self._client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError):
                await asyncio.wait_for(self._client.__aexit__(None, None, None), timeout=5)
        self._inbox.clear()

    def _on_socket_open(self, aiomqtt_open: Any, client: paho.Client, userdata: Any, sock: Any) -> None:
        """Wrap paho's socket, let aiomqtt register its reader, then replace that reader with ours."""
        if isinstance(sock, socket.socket):
            self._sock = _BufferedSocket(sock)
            client._sock = self._sock
        aiomqtt_open(client, userdata, sock)
        # Scheduled after aiomqtt's own add_reader (same thread, FIFO), so this one wins.
        self._loop.call_soon_threadsafe(self._resume_reading)

    def _read(self) -> None:
        """Reader callback: parse every whole packet the socket holds, pause when the inbox is full."""
        assert self._paho is not None
        try:
            while True:
                self._paho.loop_read()
                if self._sock is None or self._sock.pending() <= 0 or self._paused:
                    break
        except Exception as exc:  # a broken connection: surface it through aiomqtt's future
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        assert self._client is not None
        disconnected = self._client._disconnected
        if not disconnected.done():
            disconnected.set_exception(exc)
        self._arrived.set()

    def _resume_reading(self) -> None:
        if self._sock is None or self._sock.fileno() < 0:
            return
        self._paused = False
        self._loop.add_reader(self._sock.fileno(), self._read)
        if self._sock.pending() > 0:  # bytes buffered while paused: parse them now
            self._loop.call_soon(self._read)

    def _pause_reading(self) -> None:
        if self._sock is not None and self._sock.fileno() >= 0:
            self._paused = True
            self._loop.remove_reader(self._sock.fileno())

    def _handle_publish(self, inner: paho.Client, paho_publish: Any) -> Any:
        """paho's PUBLISH handler, lean: decode, file, never acknowledge (manual ack after commit)."""
        packet = inner._in_packet
        decoded = decode_publish(packet["command"], packet["packet"])
        if decoded is None:
            return paho_publish()
        topic, payload, mid, qos = decoded
        self._deliver(topic, payload, mid, qos)
        return paho.MQTT_ERR_SUCCESS

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        self._deliver(message.topic, bytes(message.payload), message.mid, message.qos)

    def _deliver(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self._inbox.append(Delivery(topic, payload, mid, qos, time.time(), self.session))
        self.last_delivery = time.monotonic()
        if len(self._inbox) >= self._queue_bound and not self._paused:
            self._pause_reading()  # QoS 0 traffic is not bounded by Receive Maximum; this is
        self._arrived.set()

    # -- the consumer's side ----------------------------------------------------------------------

    @property
    def held(self) -> int:
        """Messages received and not yet taken."""
        return len(self._inbox)

    def check(self) -> None:
        """Raise :class:`BrokerError` if the connection or the subscription has failed."""
        assert self._client is not None
        disconnected = self._client._disconnected
        if disconnected.done():
            cause = disconnected.exception() if not disconnected.cancelled() else None
            raise BrokerError(f"connection lost: {cause or 'disconnected'}", reason="connection_lost")
        task = self._subscribe_task
        if task is not None and task.done() and not task.cancelled() and task.exception() is not None:
            raise BrokerError(f"subscribe failed: {task.exception()}", reason="subscribe")

    async def wait(self, within: float, *, interrupt: asyncio.Event | None = None) -> None:
        """Return when messages are held, after ``within`` seconds or once ``interrupt`` is set;
        raise BrokerError if the connection broke."""
        self.check()
        if self._inbox or (interrupt is not None and interrupt.is_set()):
            return
        self._arrived.clear()
        assert self._client is not None
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._arrived.wait())]
        if interrupt is not None:
            waiters.append(asyncio.ensure_future(interrupt.wait()))
        try:
            watched = [*waiters, self._client._disconnected]
            await asyncio.wait(watched, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self.check()

    def pause(self) -> None:
        """Stop reading from the broker (before a shutdown): what is held is all there will be."""
        if not self._paused:
            self._pause_reading()

    def take(self, limit: int) -> list[Delivery]:
        """Up to ``limit`` held messages, oldest first (reading resumes once the inbox has room)."""
        taken, self._inbox = self._inbox[:limit], self._inbox[limit:]
        if self._paused and len(self._inbox) < self._queue_bound // 2 + 1:
            self._resume_reading()
        return taken

    def ack(self, deliveries: list[Delivery]) -> int:
        """Acknowledge ``deliveries`` of this connection; returns how many were acknowledged.

        Deliveries of an earlier connection are skipped: their packet ids mean other messages now,
        and the broker redelivers them anyway.
        """
        assert self._paho is not None
        assert self._client is not None
        if self._closed or self._client._disconnected.done():
            return 0
        session, pack = self.session, _PUBACK.pack
        # One blob of PUBACKs queued as one packet: one send() for the batch instead of one per
        # message. paho writes queued packets whole and in order, so the stream stays well-formed.
        mids = [d.mid for d in deliveries if d.session == session and d.qos == 1]
        blob = b"".join([pack(_PUBACK_BYTE, 2, mid) for mid in mids])
        if blob:
            self._paho._packet_queue(_PUBACK_BYTE, blob, 0, 1)
        return len(blob) // _PUBACK.size

    def publish_all(self, messages: Iterable[tuple[str, bytes]]) -> int:
        """Queue ``messages`` at QoS 0 (the live fan-out: best effort, never blocks on the consumer);
        returns how many were queued. Raises :class:`BrokerError` when the connection is gone.

        Queued straight on paho, not awaited one by one through aiomqtt: at QoS 0 aiomqtt waits
        for each message to be written, a trip round the event loop and a socket write (and a
        writer registered and removed) per message. Queued together, paho writes them in one go
        once the socket is writable. One fan-out message per sector and area of a batch made that
        the worker's largest extra cost at city shape (py-spy, ``hatang bench city``'s ingest drain).
        """
        assert self._paho is not None
        assert self._client is not None
        if self._closed or self._client._disconnected.done():
            raise BrokerError("fan-out not published: the connection is closed", reason="publish")
        queued = 0
        for topic, payload in messages:
            info = self._paho.publish(topic, payload, qos=0)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                why = paho.error_string(info.rc)
                raise BrokerError(f"publish to {topic} failed: {why}", reason="publish")
            queued += 1
        return queued
