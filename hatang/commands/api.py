"""``hatang api``: serve the REST API with uvicorn (host and port from settings or the options)."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from api import create_app
from hatang.settings import Settings
from hatang.stack import Stack


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``api``."""
    parser = subparsers.add_parser("api", help="serve the REST API")
    parser.add_argument("--host", default=None, help="address to listen on (default: HATANG_API__HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (default: HATANG_API__PORT)")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    app = create_app(settings, database_url=stack.database_url, mqtt_url=stack.mqtt_url)
    uvicorn.run(
        app,
        host=args.host or settings.api.host,
        port=args.port or settings.api.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    return 0
