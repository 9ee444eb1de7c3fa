"""``hatang bench alerts``: ingest with and without the alert evaluator, side by side, and open latency.

In a scratch database and topic prefix (``bench.ingest.scratch``: created, migrated, filled with
a fleet, dropped afterwards), with ``--rules`` rules shaped like a city's: four per device (a floor,
a ceiling, a silence, and for a few "breaker" devices the floor that trips), plus a few broad ones
(by model, sector, area and organisation) and rejection-rate rules. Phases, in one run:
(a) ``--messages`` single readings queued for the ingest worker's session and drained with no
evaluator; (b) as many again drained with ``hatang alerts`` running (subscribed to the fan-out,
evaluating every committed reading against every rule that covers it): the throughput ratio
(b)/(a), goal >= 0.9; (c) readings offered at ``--rate`` for ``--seconds`` with both running, every
``--breach-every``-th a breaker device alternating below its floor and back: the latency from each
breaking reading's time (its publish time, so an upper bound of commit -> open) to its alert's
opening, p99 goal < 2 s. Prints a table, then one JSON object as its last line; ``--check`` exits 1
when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.ingest.ceilings import touch_session
from bench.ingest.figures import quantile
from bench.ingest.load import Publisher, single
from bench.ingest.scratch import Scratch, scratch
from bench.ingest.worker import WorkerProcess
from hatang.settings import Settings
from hatang.stack import free_port

RATIO_GOAL = 0.9
P99_GOAL_S = 2.0
BREAKERS = 100  # devices whose floor trips in phase (c)
BREACH_PSI, CLEAR_PSI = 5.0, 40.0  # 0.34 bar trips "below 1 bar"; 2.76 bar clears past 1.5 bar


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench alerts``."""
    parser = subparsers.add_parser("alerts", help="ingest with vs without the alert evaluator; open latency")
    parser.add_argument("--rules", type=int, default=10_000, help="rules (default 10,000)")
    parser.add_argument("--devices", type=int, default=2_500, help="devices (default 2,500)")
    parser.add_argument("--messages", type=int, default=100_000, help="readings drained per side (a), (b)")
    parser.add_argument("--rate", type=float, default=5_000, help="offered readings/s in phase (c)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of phase (c)")
    parser.add_argument("--breach-every", type=int, default=50, help="every Nth reading of (c) is a breach")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.set_defaults(func=_run)


def make_rules(conn: psycopg.Connection[Any], devices: list[str], total: int) -> dict[str, int]:
    """``total`` rules over the fleet (see the module docstring); counts by kind.

    Long because each rule shape is spelled out field by field, in the order the module docstring
    lists them, before one COPY writes them all.
    """
    org = conn.execute("SELECT id, slug FROM organisations LIMIT 1").fetchone()
    area = conn.execute("SELECT code FROM areas ORDER BY id DESC LIMIT 1").fetchone()
    assert org is not None
    assert area is not None
    rows: list[tuple[Any, ...]] = []

    def add(kind: str, scope: tuple[str, str], **f: Any) -> None:
        rows.append((org[0], f"quy tắc {len(rows)}", f"rule {len(rows)}", kind, f.get("severity", "major"),
                     scope[0], scope[1], f.get("subject", "device"), f.get("metric"), f.get("operator"),
                     f.get("low"), f.get("high"), f.get("clear_low"), f.get("clear_high"),
                     f.get("duration_s"),
                     f.get("rate_per_hour")))  # fmt: skip

    pressure = {"metric": "water_pressure"}
    for scope in (
        ("sector", "water"),
        ("organisation", org[1]),
        ("area", area[0]),
        ("model", "pressurelog-pl20"),
    ):
        add("threshold", scope, operator="below", low=0.1, clear_low=0.5, duration_s=600, **pressure)
        add("threshold", scope, operator="above", high=15.0, clear_high=12.0, duration_s=60, **pressure)
    add("rejection_rate", ("organisation", org[1]), subject="organisation", rate_per_hour=10_000)
    for i, device in enumerate(devices[:BREAKERS]):
        add("threshold", ("device", device), operator="below", low=1.0, clear_low=1.5, duration_s=0,
            severity="critical", **pressure)  # fmt: skip
        del i
    kinds = ("ceiling", "floor", "silence", "outside")
    i = 0
    while len(rows) < total:
        device = devices[i % len(devices)]
        kind = kinds[(i // len(devices)) % len(kinds)]
        if kind == "ceiling":
            add(
                "threshold",
                ("device", device),
                operator="above",
                high=10.0,
                clear_high=9.0,
                duration_s=120,
                **pressure,
            )
        elif kind == "floor":
            add(
                "threshold",
                ("device", device),
                operator="below",
                low=0.2,
                clear_low=0.4,
                duration_s=300,
                **pressure,
            )
        elif kind == "silence":
            add("silence", ("device", device), duration_s=3600)
        else:
            add(
                "threshold",
                ("device", device),
                operator="outside",
                low=0.05,
                high=14.0,
                duration_s=900,
                **pressure,
            )
        i += 1
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY alert_rules (organisation_id, name_vi, name_en, kind, severity, scope_kind, scope_value,"
            " subject,"
            " metric, operator, low, high, clear_low, clear_high, duration_s, rate_per_hour) FROM STDIN"
        ) as copy,
    ):
        for row in rows[:total]:
            copy.write_row(row)
    conn.commit()
    counted = conn.execute("SELECT kind, count(*) FROM alert_rules GROUP BY kind").fetchall()
    return {str(k): int(n) for k, n in counted}


class Evaluator:
    """``hatang alerts --no-notify`` as a subprocess, read through its log and metrics."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hatang.cli", "alerts", "--no-notify", "--metrics-port",
                 str(self.port)],
                env=env, stdout=handle, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = [
                orjson.loads(line).get("msg") for line in self.log.read_text().splitlines() if line[:1] == "{"
            ]
            if "evaluator ready" in messages and "subscribed" in messages:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"evaluator did not start:\n{self.log.read_text()[-2000:]}")

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))

    def wait_seen(self, readings: int, timeout: float = 120) -> float:
        """Wait until the evaluator has taken ``readings`` readings off the fan-out; how many it took."""
        name = 'hatang_alerts_readings_total{source="fanout"}'
        deadline = time.monotonic() + timeout
        while (seen := self.metric(name)) < readings and time.monotonic() < deadline:
            time.sleep(0.1)
        return seen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def drain(run: Scratch, messages: int, offset: int, log: str) -> float:
    """Queue ``messages`` readings (normal values) for the worker's session, then drain: readings/s."""
    asyncio.run(touch_session(run.spec(run.group, f"{run.group}-w1")))
    publisher = Publisher(run.stack.mqtt_url("simulator"))
    for i in range(messages):
        t = run.base + offset + i // len(run.devices)
        publisher.send(run.topic(i), single(t, 30.0 + i % 40))
    publisher.close()
    worker = WorkerProcess(run.env, run.workdir / log)
    try:
        began = worker.connected_at()
        return messages / (worker.wait_stored(messages) - began)
    finally:
        worker.stop()


def latency_phase(run: Scratch, args: argparse.Namespace, evaluator: Evaluator) -> dict[str, Any]:
    """(c): paced readings with breaches; each breach's time -> its alert's opening."""
    worker = WorkerProcess(run.env, run.workdir / "latency.log")
    breakers = run.devices[:BREAKERS]
    state = dict.fromkeys(breakers, False)  # whether the device's last reading breached
    breaches = 0
    try:
        worker.connected_at()
        time.sleep(1.0)  # the worker's subscription is up
        publisher = Publisher(run.stack.mqtt_url("simulator"))
        total = int(args.rate * args.seconds)
        tick = 0.01
        per_tick = max(1, round(args.rate * tick))
        start = time.perf_counter()
        for i in range(total):
            if i % per_tick == 0:
                delay = start + (i // per_tick) * tick - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            if i % args.breach_every == 0:
                device = breakers[(i // args.breach_every) % len(breakers)]
                state[device] = not state[device]
                breaches += state[device]
                value = BREACH_PSI if state[device] else CLEAR_PSI
            else:
                device = run.devices[BREAKERS + i % (len(run.devices) - BREAKERS)]
                value = 30.0 + i % 40
            topic = f"{run.mount}{run.prefix}/devices/{device}/telemetry"  # as the device listener mounts it
            publisher.send(topic, single(time.time(), value))
        publisher.close()
        offered_s = time.perf_counter() - start
        deadline = time.monotonic() + 120
        with psycopg.connect(run.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
                    " WHERE r.severity = 'critical'"
                ).fetchone()
                if row is not None and row[0] >= breaches:
                    break
                time.sleep(0.5)
            lags = [
                float(r[0]) for r in conn.execute(
                    "SELECT extract(epoch FROM a.opened_at - a.since) FROM alerts a"
                    " JOIN alert_rules r ON r.id = a.rule_id WHERE r.severity = 'critical'"
                ).fetchall()
            ]  # fmt: skip
            extra = conn.execute(
                "SELECT count(*) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
                " WHERE r.severity <> 'critical'"
            ).fetchone()
        evaluated = evaluator.metric("hatang_alerts_evaluations_total")
    finally:
        worker.stop()
    return {"offered": total, "offered_s": offered_s, "breaches": breaches, "lags": lags,
            "other_alerts": extra[0] if extra else None, "evaluations": evaluated}  # fmt: skip


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; the figures of the JSON line."""
    with scratch(settings, args.devices) as run:
        with psycopg.connect(run.url) as conn:
            rules = make_rules(conn, run.devices, args.rules)
        print(f"rules {sum(rules.values()):,} {rules}", file=sys.stderr)
        without = drain(run, args.messages, 0, "without.log")
        print(f"(a) without the evaluator: {without:,.0f} readings/s", file=sys.stderr)
        env = {
            **run.env,
            "HATANG_MQTT_URL": run.stack.mqtt_url("api"),  # the evaluator reads the fan-out as the API does
            "HATANG_ALERTS__CATCHUP_INTERVAL_S": "30",
            "HATANG_ALERTS__SILENCE_INTERVAL_S": "15",
        }
        evaluator = Evaluator(env, run.workdir / "alerts.log")
        try:
            evaluator.wait_ready()
            with_alerts = drain(run, args.messages, 100_000, "with.log")
            print(f"(b) with the evaluator: {with_alerts:,.0f} readings/s", file=sys.stderr)
            drained = time.monotonic()
            seen = evaluator.wait_seen(args.messages)
            behind_s = time.monotonic() - drained
            lat = latency_phase(run, args, evaluator)
        finally:
            evaluator.stop()
    lags = lat["lags"]
    ratio = with_alerts / without
    p99 = quantile(lags, 0.99) if lags else float("nan")
    ok = ratio >= RATIO_GOAL and lags != [] and p99 < P99_GOAL_S and len(lags) == lat["breaches"]
    return {
        "benchmark": "alerts",
        "rules": sum(rules.values()),
        "rules_by_kind": rules,
        "devices": args.devices,
        "messages_per_side": args.messages,
        "ingest_without_alerts_readings_s": round(without),
        "ingest_with_alerts_readings_s": round(with_alerts),
        "ratio_with_vs_without": round(ratio, 3),
        "evaluator_fanout_readings_seen_b": int(seen),
        # After (b) drained, how long the evaluator took to finish what ingest had committed.
        "evaluator_behind_after_b_s": round(behind_s, 2),
        "latency_offered_readings_s": args.rate,
        "latency_achieved_readings_s": round(lat["offered"] / lat["offered_s"]),
        "breaches": lat["breaches"],
        "alerts_opened": len(lags),
        "other_alerts": lat["other_alerts"],
        "open_latency_p50_s": round(quantile(lags, 0.5), 4) if lags else None,
        "open_latency_p99_s": round(p99, 4) if lags else None,
        "open_latency_max_s": round(max(lags), 4) if lags else None,
        "goal_ratio": RATIO_GOAL,
        "goal_p99_s": P99_GOAL_S,
        "ok": ok,
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    result = measure(settings, args)
    rows = [
        ("rules", f"{result['rules']:,}", json.dumps(result["rules_by_kind"])),
        ("(a) ingest without alerts", f"{result['ingest_without_alerts_readings_s']:,} readings/s", ""),
        ("(b) ingest with alerts", f"{result['ingest_with_alerts_readings_s']:,} readings/s",
         f"{result['ratio_with_vs_without']} x (a), goal >= {RATIO_GOAL}"),
        (f"(c) open latency @ {args.rate:,.0f}/s",
         f"p50 {result['open_latency_p50_s']} s, p99 {result['open_latency_p99_s']} s",
         f"goal p99 < {P99_GOAL_S} s"),
        ("alerts opened / breaches", f"{result['alerts_opened']} / {result['breaches']}",
         f"others: {result['other_alerts']}"),
    ]  # fmt: skip
    for name, figure, note in rows:
        print(f"{name:<30} {figure:>38}  {note}")
    print(json.dumps(result))
    return 1 if args.check and not result["ok"] else 0
