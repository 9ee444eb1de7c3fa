"""``hatang run`` (what ``make run`` starts): the whole platform in the foreground.

Starts the local stack (unless external), applies migrations, then supervises the platform's
processes (``_processes``); Ctrl-C (or SIGTERM) stops the processes and then the local services
this run started — services that were already running are left running.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

import psycopg

from hatang.commands.seed import demo_key_file, seed
from hatang.migrate import migrate
from hatang.settings import Settings
from hatang.stack import Stack


@dataclass(frozen=True, slots=True)
class Process:
    """One supervised child: a ``hatang`` subcommand."""

    name: str
    argv: list[str]
    where: str


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``run``."""
    parser = subparsers.add_parser("run", help="start the whole platform in the foreground (Ctrl-C stops)")
    parser.add_argument("--no-stop-stack", action="store_true", help="leave the local services running")
    parser.set_defaults(func=_run)


def _processes(settings: Settings) -> list[Process]:
    """The platform's processes, in start order."""
    port = settings.ingest.metrics_port
    where = f"metrics http://127.0.0.1:{port}/metrics" if port else "MQTT worker"
    processes = [Process("ingest", ["ingest"], where)]
    processes.append(Process("api", ["api"], f"http://{settings.api.host}:{settings.api.port}/docs"))
    # The same scheduler role a deployment runs: rollups, retention and the readiness snapshot.
    jobs = f"rollups, retention, readiness snapshot every {settings.readiness.snapshot_interval_s:g} s"
    processes.append(Process("scheduler", ["scheduler"], jobs))
    port = settings.alerts.metrics_port
    where = f"alert rules and notifications, metrics http://127.0.0.1:{port}/metrics" if port else "alerts"
    processes.append(Process("alerts", ["alerts"], where))
    if settings.mqtt_url is None:  # the local Mosquitto: keep its password file in step with the registry
        processes.append(Process("broker", ["broker", "sync", "--watch"], "password file from the registry"))
    sim = settings.simulators
    if sim.run_devices > 0:  # a small simulated fleet (made through the API once) keeps the dashboard alive
        argv = ["simulate", "run", "--forever", "--ensure-fleet", str(sim.run_devices),
                "--devices", str(sim.run_devices), "--rate", f"{sim.run_rate:g}"]  # fmt: skip
        where = f"{sim.run_devices} simulated devices, {sim.run_rate:g} msg/s"
        processes.append(Process("simulate", argv, where))
    return processes


def _run(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)
    print("hatang: starting the local stack ...", flush=True)
    started = stack.up()
    with psycopg.connect(stack.database_url) as conn:
        applied = migrate(conn)
    _, demo_key = seed(stack.database_url, key_file=demo_key_file(settings))
    status = stack.status()
    processes = _processes(settings)
    children: list[tuple[Process, subprocess.Popen[bytes]]] = []
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    exit_code = 0
    try:
        for process in processes:
            children.append((process, subprocess.Popen([sys.executable, "-m", "hatang.cli", *process.argv])))
        ts = status.get("timescaledb", {})
        print(
            "\n".join(
                [
                    "",
                    "hatang is running (Ctrl-C stops everything this run started)",
                    f"  PostgreSQL {status['postgresql'].get('version')} + TimescaleDB {ts.get('version')} "
                    f"({ts.get('edition')} edition)  {status['database_url']}",
                    f"  Mosquitto {status['mosquitto'].get('version', '(external)')}  {status['mqtt_url']}",
                    f"  migrations applied now: {len(applied)}",
                    f"  demo admin key: {demo_key}",
                    *(f"  {p.name:<10} {p.where}" for p in processes),
                    "",
                ]
            ),
            flush=True,
        )
        while not stopping:
            for process, child in children:
                if child.poll() is not None:
                    print(f"hatang: {process.name} exited with {child.returncode}; stopping", flush=True)
                    exit_code = 1
                    stopping = True
            time.sleep(0.2)
    finally:
        for _, child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for _, child in reversed(children):
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        if started and not args.no_stop_stack:
            stopped = stack.down(only=started)
            print(f"hatang: stopped {', '.join(stopped)}", flush=True)
    return exit_code
