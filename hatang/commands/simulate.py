"""``hatang simulate fleet|run``: simulated fleets created through the API, and load runs that check
themselves.

``fleet`` creates (or completes) a fleet of N devices over the registry API and keeps their
credentials in ``HATANG_SIMULATORS__FLEET_FILE``. ``run`` publishes with each device's own
credentials at the offered rate, optionally injecting faults, waits for ingest to land everything
and prints a human summary and, as the last line, the report's JSON object; it exits 1 when the
database does not hold exactly what the broker acknowledged. ``run --forever`` is what ``make run``
starts: a small fleet at a gentle rate, no report. docs/load-testing.md explains the numbers.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from types import FrameType
from typing import Any

import psycopg

from firmware_contracts import Limits, load_models
from hatang.commands.broker import render
from hatang.commands.seed import demo_key_file, seed
from hatang.settings import Settings
from hatang.stack import Stack
from simulators import (
    BrokerAddress,
    FaultPlan,
    Fleet,
    LoadSpec,
    PublishError,
    SimulatorError,
    UrllibHttp,
    create_fleet,
    load_fleet,
    parse_url,
    run_checked,
    run_load,
    save_fleet,
    stderr_status,
)
from simulators import render as render_report

_FOREVER_ROUND_S = 300.0


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``simulate fleet`` and ``simulate run``."""
    parser = subparsers.add_parser("simulate", help="simulated device fleets and load runs")
    inner = parser.add_subparsers(dest="simulate_command", required=True, metavar="ACTION")

    fleet = inner.add_parser("fleet", help="create (or complete) a simulated fleet through the registry API")
    fleet.add_argument("--devices", type=int, required=True, help="number of devices")
    fleet.add_argument("--seed", type=int, default=1, help="fleet seed: ids, models, areas, positions")
    fleet.add_argument("--api", help="registry API URL (default: this host's API)")
    fleet.add_argument("--key", help="admin API key (default: the demo key `hatang seed` keeps)")
    fleet.set_defaults(func=_fleet)

    run = inner.add_parser("run", help="publish the fleet's telemetry at a rate and report what landed")
    run.add_argument("--rate", type=float, required=True, help="offered messages per second (all devices)")
    run.add_argument("--duration", type=float, default=60.0, help="seconds of publishing")
    run.add_argument("--processes", type=int, default=1, help="publishing worker processes")
    run.add_argument("--qos", type=int, choices=(0, 1), default=1, help="MQTT QoS of the telemetry")
    run.add_argument("--senml-pack", type=int, default=1, help="records per message (1: native JSON)")
    run.add_argument("--seed", type=int, default=1, help="signal and fault seed")
    run.add_argument("--devices", type=int, help="use only the fleet's first N devices")
    for kind, meaning in (
        ("malformed", "truncated payloads"), ("unknown", "messages to unknown device ids (service account)"),
        ("out-of-range", "one value beyond its range"), ("clock-skew", "times beyond the future limit"),
        ("duplicate", "messages sent twice"), ("silent", "devices that stop publishing mid-run"),
    ):  # fmt: skip
        run.add_argument(f"--fault-{kind}", type=float, default=0.0, metavar="FRACTION", help=meaning)
    run.add_argument("--no-report", action="store_true", help="do not wait for ingest or count the database")
    run.add_argument("--forever", action="store_true", help="publish until stopped, in rounds (make run)")
    run.add_argument(
        "--ensure-fleet", type=int, metavar="N", help="first create a fleet of N devices if there is none"
    )
    run.set_defaults(func=_run)


def _api_url(settings: Settings, given: str | None) -> str:
    return given or settings.simulators.api_url or f"http://{settings.api.host}:{settings.api.port}"


def _wait_for_api(url: str, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise SimulatorError(f"the API at {url} did not answer within {timeout_s:.0f} s")
        time.sleep(0.5)


def _make_fleet(settings: Settings, *, devices: int, seed: int, api: str | None, key: str | None) -> Fleet:
    stack = Stack.from_settings(settings)
    token = key
    if token is None:
        key_file = demo_key_file(settings)
        if not key_file.exists():
            raise SimulatorError("no API key: pass --key, or run `hatang seed` (it keeps a demo admin key)")
        token = key_file.read_text().strip()
    path = settings.simulators.fleet_file
    fleet = create_fleet(
        UrllibHttp(_api_url(settings, api), token), devices=devices, seed=seed,
        models=list(load_models().values()), known=load_fleet(path),
    )  # fmt: skip
    save_fleet(fleet, path)
    if stack.mosquitto is not None:  # make the local broker know the new devices now (the watcher would too)
        with psycopg.connect(stack.database_url) as conn:
            render(conn, stack.mosquitto)
    return fleet


def _fleet(args: argparse.Namespace, settings: Settings) -> int:
    try:
        fleet = _make_fleet(settings, devices=args.devices, seed=args.seed, api=args.api, key=args.key)
    except SimulatorError as exc:
        print(f"hatang simulate fleet: {exc}", file=sys.stderr)
        return 1
    models = sorted({d.model[0] for d in fleet.devices})
    print(
        f"hatang simulate fleet: {len(fleet.devices)} devices of {len(models)} models (seed {fleet.seed}); "
        f"credentials in {settings.simulators.fleet_file}"
    )
    return 0


def _faults(args: argparse.Namespace) -> FaultPlan:
    return FaultPlan(
        malformed=args.fault_malformed, unknown_device=args.fault_unknown,
        out_of_range=args.fault_out_of_range, clock_skew=args.fault_clock_skew,
        duplicate=args.fault_duplicate, silent=args.fault_silent,
    )  # fmt: skip


def _run(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.from_settings(settings)

    def _terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # unwinds run_load, which stops its workers

    signal.signal(signal.SIGTERM, _terminate)
    try:
        fleet = load_fleet(settings.simulators.fleet_file)
        if args.ensure_fleet and (fleet is None or len(fleet.devices) < args.ensure_fleet):
            _wait_for_api(_api_url(settings, None), timeout_s=120)
            seed(stack.database_url, key_file=demo_key_file(settings))  # idempotent; keeps the demo key
            fleet = _make_fleet(settings, devices=args.ensure_fleet, seed=args.seed, api=None, key=None)
        if fleet is None:
            raise SimulatorError("no fleet: run `hatang simulate fleet --devices N` first")
        service = parse_url(stack.mqtt_url)
        devices = fleet.devices[: args.devices] if args.devices else fleet.devices
        contracts = settings.contracts
        spec = LoadSpec(
            devices=devices, broker=BrokerAddress(service.host, service.port),
            topic_prefix=settings.topic_prefix, rate=args.rate,
            duration_s=_FOREVER_ROUND_S if args.forever else args.duration, processes=args.processes,
            qos=args.qos, pack=args.senml_pack, faults=_faults(args), seed=args.seed,
            run_id=secrets.token_hex(3), service=service,
            limits=Limits.of(contracts),
        )  # fmt: skip
        if args.forever:
            print(f"hatang simulate: {len(devices)} devices at {args.rate:g} msg/s until stopped", flush=True)
            while True:
                try:
                    result = run_load(spec)
                except PublishError as exc:  # e.g. the broker has not loaded new credentials yet
                    print(f"hatang simulate: {exc}; retrying in 5 s", file=sys.stderr, flush=True)
                    time.sleep(5)
                    continue
                print(f"hatang simulate: {result.sent} messages, {result.acked} acknowledged", flush=True)
        if args.no_report:
            result = run_load(spec, status=stderr_status)
            print(json.dumps({"messages_sent": result.sent, "messages_acked": result.acked,
                              "readings_published": result.readings_acked}))  # fmt: skip
            return 0
        summary = run_checked(spec, database_url=stack.database_url, listen=service, status=stderr_status)
    except SimulatorError as exc:
        print(f"\nhatang simulate: {exc}", file=sys.stderr)
        return 1
    print(file=sys.stderr)
    print(render_report(summary))
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1
