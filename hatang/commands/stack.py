"""``hatang stack up|down|status`` and ``hatang migrate``'s shared wiring."""

from __future__ import annotations

import argparse
import json
from typing import Any

from hatang.output import add_format_argument, render
from hatang.settings import Settings
from hatang.stack import Stack


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``stack``."""
    parser = subparsers.add_parser("stack", help="the local PostgreSQL+TimescaleDB and Mosquitto")
    inner = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inner.add_parser("up", help="start the local services (external URLs start nothing)").set_defaults(
        func=_up
    )
    inner.add_parser("down", help="stop the local services").set_defaults(func=_down)
    status = inner.add_parser("status", help="versions, TimescaleDB edition and the URLs in use")
    add_format_argument(status)
    status.set_defaults(func=_status)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    started = stack.up()
    print(f"started: {', '.join(started) if started else 'nothing (already running or external)'}")
    return 0


def _down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = Stack.from_settings(settings).down()
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    report = Stack.from_settings(settings).status()
    code = 0 if "error" not in report["postgresql"] else 1
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return code
    pg, ts, mq = report["postgresql"], report.get("timescaledb", {}), report["mosquitto"]
    rows = [
        ("PostgreSQL", pg.get("version", pg.get("error", "unreachable")), _where(pg)),
        (
            "TimescaleDB",
            f"{ts.get('version') or 'not installed'} ({ts.get('edition', 'unknown')} edition, "
            f"license {ts.get('license')})" if ts else "unknown (database unreachable)",
            "",
        ),
        ("Mosquitto", mq.get("version", "external"), _where(mq)),
        ("database URL", report["database_url"], ""),
        ("MQTT devices", report["device_url"], "(device listener)"),
        *((f"MQTT {role}", url, "(service listener)") for role, url in report["mqtt_urls"].items()),
    ]
    if args.format == "csv":
        print(render([{"part": n, "value": v, "where": w} for n, v, w in rows], "csv"))
        return code
    width = max(len(name) for name, _, _ in rows)
    for name, value, where in rows:
        print(f"{name:<{width}}  {value}{'  ' + where if where else ''}")
    return code


def _where(service: dict[str, Any]) -> str:
    if not service.get("managed"):
        return "[external]"
    return f"[local, {'running' if service.get('running') else 'stopped'}, {service.get('data_dir')}]"
