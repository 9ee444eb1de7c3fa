"""``hatang devices import FILE``: onboard devices from CSV or NDJSON through the running API."""

from __future__ import annotations

import argparse
from typing import Any

from hatang.imports import add_import_action
from registry import DEVICE_COLUMNS


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``devices import``."""
    parser = subparsers.add_parser("devices", help="devices through the API: import a CSV or NDJSON file")
    inner = parser.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    add_import_action(inner, "devices", ", ".join(DEVICE_COLUMNS))
