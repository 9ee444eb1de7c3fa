"""``hatang ingest``: run one ingest worker in the foreground until SIGTERM or Ctrl-C.

Resolves the services (local stack or external URLs), then hands over to ``ingest.runner.run``;
the worker drains, commits and acknowledges what it holds before exiting.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from hatang.settings import Settings
from hatang.stack import Stack
from ingest import IngestMetrics, run, tune_interpreter
from ingest.logs import configure


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``ingest``."""
    parser = subparsers.add_parser("ingest", help="run an MQTT ingest worker (SIGTERM drains and exits)")
    parser.add_argument("--client-id", help="MQTT client id (default: HATANG_INGEST__CLIENT_ID or per host)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (0: none)")
    parser.add_argument(
        "--leave", action="store_true",
        help="drain a departed replica's session: unsubscribe it, store what it had queued, exit when "
        "quiet (give its --client-id; docs/deploy.md, 'Scaling ingest down')",
    )  # fmt: skip
    parser.add_argument("--quiet-s", type=float, default=5.0, help="--leave: exit after this long quiet")
    parser.set_defaults(func=_ingest)


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    overrides: dict[str, Any] = {}
    if args.client_id is not None:
        overrides["client_id"] = args.client_id
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if overrides:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=overrides)})
    configure()
    stack = Stack.from_settings(settings)
    tune_interpreter()  # this process is the worker's own: start-up is over, objects so far are frozen
    return asyncio.run(_main(settings, stack, leave_quiet_s=args.quiet_s if args.leave else None))


async def _main(settings: Settings, stack: Stack, *, leave_quiet_s: float | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    metrics = IngestMetrics()
    urls = {"database_url": stack.database_url, "mqtt_url": stack.mqtt_url}
    # /healthz, /readyz and /metrics are served on the metrics port, from the worker's own event loop.
    port = settings.ingest.metrics_port
    return await run(
        settings=settings, stop=stop, metrics=metrics, serve_port=port, leave_quiet_s=leave_quiet_s, **urls
    )
