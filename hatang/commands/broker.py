"""``hatang broker sync [--watch]``: render the local Mosquitto's password and ACL files from the registry.

Only ``active`` devices are rendered (``registry.broker``); Mosquitto re-reads the files on SIGHUP
(``LocalMosquitto.write_credentials``). ``--watch`` LISTENs on ``hatang_registry`` (the devices
table's statement trigger) and re-renders after a short debounce whenever the set may have changed
(``registry.broker.fingerprint``), so suspension, rotation and onboarding reach the broker within
about a second. When the database connection is lost (a PostgreSQL restart), it reconnects with
backoff and renders at once on reconnecting, since changes made meanwhile sent no notification it
could hear; it never exits on a database error. A clustered broker (EMQX) reads PostgreSQL itself
instead: docs/registry.md.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from hatang.settings import Settings
from hatang.stack import LocalMosquitto, Stack
from registry import broker_users, fingerprint, newest_change

# Re-check fully (a device count, too) this often, notifications or not: a notification lost to a
# reconnect, a device deleted by hand. A notification alone checks the newest updated_at.
_POLL_S = 30.0
# Waits between attempts to reach a lost database: doubling from the first to the last.
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 5.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``broker sync``."""
    parser = subparsers.add_parser("broker", help="the MQTT broker's credentials")
    inner = parser.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    sync = inner.add_parser("sync", help="render Mosquitto's password/ACL files and reload it")
    sync.add_argument("--watch", action="store_true", help="keep running; re-render on every registry change")
    sync.set_defaults(func=_sync)


def render(conn: psycopg.Connection[Any], mosquitto: LocalMosquitto) -> int:
    """Render the files from the registry now and reload the broker; returns the devices rendered."""
    users = broker_users(conn)
    mosquitto.write_credentials(users)
    return len(users)


def watch(
    database_url: str, mosquitto: LocalMosquitto, *, debounce_s: float, stop_after: float | None = None,
    stop: threading.Event | None = None,
) -> None:  # fmt: skip
    """Render, then re-render on each registry change until interrupted (or ``stop_after`` seconds, or
    ``stop`` is set: it is noticed within the poll interval).

    A lost database connection is retried with backoff for as long as it takes; each new connection
    renders at once before it waits for notifications again."""
    started = time.monotonic()
    retry = _RETRY_FIRST_S

    def remaining() -> float | None:
        if stop is not None and stop.is_set():
            return 0.0
        return None if stop_after is None else stop_after - (time.monotonic() - started)

    while (left := remaining()) is None or left > 0:
        try:
            with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
                retry = _RETRY_FIRST_S
                _watch_connected(conn, mosquitto, debounce_s=debounce_s, remaining=remaining)
                return
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"hatang broker: database connection lost ({reason}); retrying in {retry:g} s",
                  file=sys.stderr, flush=True)  # fmt: skip
            time.sleep(retry)
            retry = min(retry * 2, _RETRY_MAX_S)


def _watch_connected(
    conn: psycopg.Connection[Any], mosquitto: LocalMosquitto, *, debounce_s: float,
    remaining: Callable[[], float | None],
) -> None:  # fmt: skip
    """Render now, then on each change, over one connection; returns when ``remaining`` runs out."""
    conn.execute("LISTEN hatang_registry")
    last = fingerprint(conn)
    last_full = time.monotonic()
    count = render(conn, mosquitto)
    print(f"hatang broker: rendered {count} active devices; watching for changes", flush=True)
    while (left := remaining()) is None or left > 0:
        timeout = _POLL_S if left is None else min(_POLL_S, left)
        for _ in conn.notifies(timeout=timeout, stop_after=1):
            pass
        time.sleep(debounce_s)  # let a burst of changes settle into one render
        # Drain what arrived meanwhile without waiting.
        for _ in conn.notifies(timeout=0):
            pass
        # The full fingerprint counts devices: at most every poll; a NOTIFY reads the newest change only.
        if time.monotonic() - last_full >= _POLL_S:
            current, last_full = fingerprint(conn), time.monotonic()
        else:
            current = (last[0], newest_change(conn))
        if current != last:
            last = current
            count = render(conn, mosquitto)
            print(f"hatang broker: rendered {count} active devices", flush=True)


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    mosquitto = stack.mosquitto
    if settings.registry.mosquitto_dir is not None:
        # A Mosquitto started by someone else (a compose service, a sidecar) sharing its auth files
        # and, for the SIGHUP, its process namespace with us.
        mosquitto = LocalMosquitto(
            data_dir=settings.registry.mosquitto_dir,
            port=settings.stack.mqtt_port,
            service_port=settings.stack.mqtt_service_port,
            topic_prefix=settings.topic_prefix,
            device_mount=settings.device_mount,
            binary=settings.stack.mosquitto,
        )
    if mosquitto is None:
        print(
            "hatang broker: HATANG_MQTT_URL names an external broker: set HATANG_REGISTRY__MOSQUITTO_DIR "
            "to a Mosquitto's auth directory, or let the broker read PostgreSQL itself (docs/registry.md)",
            file=sys.stderr,
        )
        return 2
    if args.watch:
        watch(stack.database_url, mosquitto, debounce_s=settings.registry.broker_debounce_s)
        return 0
    with psycopg.connect(stack.database_url) as conn:
        count = render(conn, mosquitto)
    print(f"hatang broker: rendered {count} active devices")
    return 0
