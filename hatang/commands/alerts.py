"""``hatang alerts``: run the alert evaluator and notifier in the foreground until SIGTERM or Ctrl-C.

Resolves the services (local stack or external URLs), then hands over to ``alerts.runner.run``.
``--no-notify`` / ``--no-evaluate`` run one half only (a notifier can run on its own host). Any
number of these processes may run at once against one database (docs/alerts.md).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from alerts.metrics import AlertMetrics
from alerts.runner import run
from hatang.settings import Settings
from hatang.stack import Stack
from ingest.logs import configure


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``alerts``."""
    parser = subparsers.add_parser("alerts", help="run the alert evaluator and notifier (SIGTERM stops)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus port (0: none)")
    parser.add_argument("--no-evaluate", action="store_true", help="only deliver notifications")
    parser.add_argument("--no-notify", action="store_true", help="only evaluate rules")
    parser.set_defaults(func=_alerts)


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    if args.metrics_port is not None:
        settings = settings.model_copy(
            update={"alerts": settings.alerts.model_copy(update={"metrics_port": args.metrics_port})}
        )
    configure()
    stack = Stack.from_settings(settings)
    return asyncio.run(_main(settings, stack, evaluate=not args.no_evaluate, notify=not args.no_notify))


async def _main(settings: Settings, stack: Stack, *, evaluate: bool, notify: bool) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    metrics = AlertMetrics()
    metrics.serve(settings.alerts.metrics_port)
    return await run(
        settings=settings, database_url=stack.database_url, mqtt_url=stack.mqtt_url, stop=stop,
        metrics=metrics, evaluate=evaluate, notify=notify,
    )  # fmt: skip
