"""``hatang assets import FILE``: onboard infrastructure assets from CSV or NDJSON through the API."""

from __future__ import annotations

import argparse
from typing import Any

from hatang.imports import add_import_action
from registry import ASSET_COLUMNS


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``assets import``."""
    parser = subparsers.add_parser("assets", help="assets through the API: import a CSV or NDJSON file")
    inner = parser.add_subparsers(dest="assets_command", required=True, metavar="ACTION")
    add_import_action(inner, "assets", ", ".join(ASSET_COLUMNS))
