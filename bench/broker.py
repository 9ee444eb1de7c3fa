"""``hatang bench broker``: what the broker's trust boundary costs (docs/security.md).

A scratch Mosquitto of its own (the installed binary, hatang's configuration: a device listener with
``use_username_as_clientid``, the ``ingress/`` mount point and the per-device ACL; a service listener
with the per-role accounts), on free loopback ports, with ``--devices`` device accounts rendered
from hatang's renderer. Measured in one run:

- ``render_s``: rendering both listeners' password and ACL files (the ``broker sync`` step);
- ``reload_s``: from the SIGHUP after rendering one more device until that device can log in;
- ``logins_s``: device logins (CONNECT → CONNACK) per second, one after another;
- ``device_msgs_s`` and ``service_msgs_s``: QoS 1 publishes per second through the device listener
  (mount point, per-device ACL) and through the service listener (the simulator's account, no
  mount) to the same telemetry topics, interleaved rounds; ``ratio_device_vs_service`` is their
  ratio. Goals: ``reload_s`` <= 5 s at 100,000 devices and the ratio >= 0.7.

Every account shares one password hash (its parse and lookup cost does not depend on the salt).
Prints a table, then one JSON object with every figure, the goals and ``ok`` as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from hatang.settings import Settings
from hatang.stack import LocalMosquitto, free_port
from registry import BrokerUser, hash_password, service_user

GOAL_RELOAD_S = 5.0
GOAL_RATIO = 0.7
PREFIX = "city/v1"
SECRET = "bench-device-secret"  # noqa: S105 - every account of a scratch broker, deleted after the run


def _progress(text: str) -> None:
    print(f"  {text}", file=sys.stderr, flush=True)


def _client(port: int, username: str, password: str, client_id: str) -> tuple[paho.Client, threading.Event]:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.username_pw_set(username, password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: connected.set() if not reason.is_failure else None
    return client, connected


def _logs_in(port: int, username: str) -> bool:
    client, connected = _client(port, username, SECRET, f"probe-{username}")
    try:
        client.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    client.loop_start()
    ok = connected.wait(2.0)
    client.disconnect()
    client.loop_stop()
    return ok


def _publish_rate(port: int, username: str, password: str, topic: str, count: int) -> float:
    """QoS 1 publishes per second until every PUBACK is in."""
    client, connected = _client(port, username, password, f"bench-{username}-{os.getpid()}")
    window = threading.Semaphore(1000)  # at most this many unacknowledged
    acked = threading.Semaphore(0)
    refused = []

    def on_publish(c: Any, u: Any, mid: int, reason: Any, p: Any) -> None:
        if reason.is_failure:
            refused.append(reason)
        window.release()
        acked.release()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise RuntimeError(f"{username} could not log in")
        payload = b'{"t": 1748736000, "psi": 40.0}'
        start = time.perf_counter()
        for _ in range(count):
            if not window.acquire(timeout=30):
                raise RuntimeError("no PUBACK for 30 s")
            client.publish(topic, payload, qos=1)
        for _ in range(count):
            if not acked.acquire(timeout=30):
                raise RuntimeError("no PUBACK for 30 s")
        if refused:
            raise RuntimeError(f"{len(refused)} publishes refused, e.g. {refused[0]}")
        return count / (time.perf_counter() - start)
    finally:
        client.disconnect()
        client.loop_stop()


def measure(*, devices: int, messages: int, rounds: int) -> dict[str, Any]:
    """Every figure of the JSON line."""
    root = Path(tempfile.mkdtemp(prefix="hatang-bench-broker-"))
    broker = LocalMosquitto(data_dir=root, port=free_port(), service_port=free_port(), topic_prefix=PREFIX)
    hashed = hash_password(SECRET)
    users = [BrokerUser(f"bd-{i:06d}", hashed) for i in range(devices)]
    try:
        broker.init()
        broker.start()
        _progress(f"rendering {devices:,} devices")
        began = time.perf_counter()
        broker.write_credentials(users)
        render_s = time.perf_counter() - began
        deadline = time.monotonic() + 120
        while not _logs_in(broker.port, users[-1].username):
            if time.monotonic() > deadline:
                raise RuntimeError("the rendered devices never could log in")
            time.sleep(0.05)
        _progress("reloading with one more device")
        newcomer = BrokerUser(f"bd-{devices:06d}", hashed)
        began = time.perf_counter()
        broker.write_credentials([*users, newcomer])
        while not _logs_in(broker.port, newcomer.username):
            if time.perf_counter() - began > 120:
                raise RuntimeError("the new device never could log in")
            time.sleep(0.02)
        reload_s = time.perf_counter() - began
        _progress("logins")
        logins = min(200, devices)
        began = time.perf_counter()
        for i in range(logins):
            if not _logs_in(broker.port, users[i].username):
                raise RuntimeError(f"{users[i].username} could not log in")
        logins_s = logins / (time.perf_counter() - began)
        _progress(f"publishing {messages:,} messages per round, {rounds} rounds each way")
        device = users[0].username
        device_topic, service_topic = (
            f"{PREFIX}/devices/{device}/telemetry",
            f"ingress/{PREFIX}/devices/{device}/telemetry",
        )
        simulator = service_user("simulator")
        best_device = best_service = 0.0
        for _ in range(rounds):
            best_device = max(best_device, _publish_rate(broker.port, device, SECRET, device_topic, messages))
            best_service = max(best_service, _publish_rate(
                broker.service_port, simulator, broker.service_secret("simulator"), service_topic, messages
            ))  # fmt: skip
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    ratio = best_device / best_service
    ok = reload_s <= GOAL_RELOAD_S and ratio >= GOAL_RATIO
    return {
        "benchmark": "broker", "devices": devices, "render_s": round(render_s, 3),
        "reload_s": round(reload_s, 3), "logins_s": round(logins_s, 1), "device_msgs_s": round(best_device),
        "service_msgs_s": round(best_service), "ratio_device_vs_service": round(ratio, 3),
        "goal_reload_s": GOAL_RELOAD_S, "goal_ratio": GOAL_RATIO, "cpus": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2), "ok": ok,
    }  # fmt: skip


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the table and the JSON line; with ``--check``, exit 1 when a goal is missed."""
    del settings  # a scratch broker of its own, on free ports
    result = measure(devices=args.devices, messages=args.messages, rounds=args.rounds)
    rows = [
        ("devices rendered", f"{result['devices']:,}", ""),
        ("render (both listeners)", f"{result['render_s']:.3f} s", ""),
        ("reload until a new device logs in", f"{result['reload_s']:.3f} s", f"goal <= {GOAL_RELOAD_S:g} s"),
        ("device logins", f"{result['logins_s']:,.1f} /s", ""),
        ("QoS 1 via the device listener", f"{result['device_msgs_s']:,} msg/s", "mount + per-device ACL"),
        ("QoS 1 via the service listener", f"{result['service_msgs_s']:,} msg/s", "simulator account"),
        ("ratio device / service", f"{result['ratio_device_vs_service']:.3f}", f"goal >= {GOAL_RATIO:g}"),
    ]
    for name, value, note in rows:
        print(f"{name:<36} {value:>16}  {note}")
    print(json.dumps(result))
    return 1 if args.check and not result["ok"] else 0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``broker`` to ``hatang bench``."""
    parser = subparsers.add_parser(
        "broker", help="render/reload cost and throughput of the broker's listeners"
    )
    parser.add_argument("--devices", type=int, default=100_000, help="device accounts rendered")
    parser.add_argument("--messages", type=int, default=20_000, help="QoS 1 messages per publishing round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per listener (best counts)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.set_defaults(func=run)
