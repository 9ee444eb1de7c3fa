"""``hatang broker sync [--watch]``: render the local Mosquitto's password and ACL files from the registry.

Only ``active`` devices are rendered (``registry.broker``); Mosquitto re-reads the files on SIGHUP
(``LocalMosquitto.write_credentials``). ``--watch`` LISTENs on ``hatang_registry`` (the devices
table's statement trigger) and re-renders after a short debounce whenever the set may have changed
(``registry.broker.fingerprint``), so suspension, rotation and onboarding reach the broker within
about a second. A clustered broker (EMQX) reads PostgreSQL itself instead: docs/registry.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import psycopg

from hatang.settings import Settings
from hatang.stack import LocalMosquitto, Stack
from registry import broker_users, fingerprint, newest_change

# Re-check fully (a device count, too) this often, notifications or not: a notification lost to a
# reconnect, a device deleted by hand. A notification alone checks the newest updated_at.
_POLL_S = 30.0


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
    database_url: str, mosquitto: LocalMosquitto, *, debounce_s: float, stop_after: float | None = None
) -> None:
    """Render, then re-render on each registry change until interrupted (or ``stop_after`` seconds)."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("LISTEN hatang_registry")
        last = fingerprint(conn)
        last_full = time.monotonic()
        count = render(conn, mosquitto)
        print(f"hatang broker: rendered {count} active devices; watching for changes", flush=True)
        while stop_after is None or time.monotonic() - started < stop_after:
            timeout = _POLL_S if stop_after is None else min(_POLL_S, stop_after)
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                pass
            time.sleep(debounce_s)  # let a burst of changes settle into one render
            # Drain what arrived meanwhile without waiting.
            for _ in conn.notifies(timeout=0):
                pass
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
            topic_prefix=settings.topic_prefix,
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
