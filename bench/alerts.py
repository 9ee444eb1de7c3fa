"""``hatang bench alerts``: ingest with and without the alert evaluator, side by side, and open latency.

In a scratch database and topic prefix (``bench.ingest.scratch``: created, migrated, filled with a
fleet, dropped afterwards), with ``--rules`` rules shaped like a city's: four per device (a floor, a
ceiling, a silence, and for a few "breaker" devices the floor that trips), plus a few broad ones (by
model, sector, area and organisation) and rejection-rate rules. Phases, in one run: (a)
``--messages`` single readings queued for the ingest worker's session and drained with no evaluator;
(b) as many again drained with ``hatang alerts`` running (subscribed to the fan-out, evaluating
every committed reading against every rule that covers it), in the order a, b, b, a so that a
machine load that drifts weighs on both sides alike: the throughput ratio (mean of the b's over mean
of the a's), goal >= 0.9; (c) readings offered at ``--rate`` for ``--seconds`` with both running,
every ``--breach-every``-th a breaker device alternating below its floor and back: the latency from
the commit of each breaking reading's batch (the fan-out carries it; ``alerts.source_committed_at``)
to its alert's opening, p99 goal < 2 s (and from its publish time, an upper bound that includes the
publisher's and the broker's queues); (d) silence: once (c) stops, a silence rule of ``--silence-s``
on a few of its devices (``SILENCE_PROBES``): the delay from each one's last reading to its alert's
opening, goal <= duration + 60 s with the default ``last_seen`` granularity and sweep interval. Also
the evaluator's CPU seconds per reading in (b), a figure that does not depend on the machine's load.
Prints a table, then one JSON object as its last line; ``--check`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import psycopg

from bench.alert_rules import BREACH_PSI, BREAKERS, CLEAR_PSI, make_rules
from bench.cpu import cpu_seconds
from bench.ingest.ceilings import touch_session
from bench.ingest.figures import quantile
from bench.ingest.load import Publisher, single
from bench.ingest.scratch import Scratch, scratch
from bench.ingest.worker import WorkerProcess
from hatang.settings import Settings
from hatang.stack import free_port

RATIO_GOAL = 0.9
P99_GOAL_S = 2.0
SILENCE_PROBES = 20  # devices of (c) given a short silence rule in (d)
SILENCE_GOAL_SLACK_S = 60.0  # issue 17: a silence opens within its duration + 60 s


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench alerts``."""
    parser = subparsers.add_parser("alerts", help="ingest with vs without the alert evaluator; open latency")
    parser.add_argument("--rules", type=int, default=10_000, help="rules (default 10,000)")
    parser.add_argument("--devices", type=int, default=2_500, help="devices (default 2,500)")
    parser.add_argument("--messages", type=int, default=100_000, help="readings per drain (a, b, b, a)")
    parser.add_argument("--rate", type=float, default=5_000, help="offered readings/s in phase (c)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of phase (c)")
    parser.add_argument("--breach-every", type=int, default=50, help="every Nth reading of (c) is a breach")
    parser.add_argument("--silence-s", type=float, default=30.0, help="the silence rules' duration in (d)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.set_defaults(func=_run)


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


def _publish_paced(run: Scratch, args: argparse.Namespace) -> tuple[int, float, int, dict[str, float]]:
    """(c)'s readings at ``--rate``: (offered, seconds taken, breaches, last publish time per device)."""
    breakers = run.devices[:BREAKERS]
    state = dict.fromkeys(breakers, False)  # whether the device's last reading breached
    last: dict[str, float] = {}
    breaches = 0
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
        last[device] = now = time.time()
        publisher.send(topic, single(now, value))
    publisher.close()
    return total, time.perf_counter() - start, breaches, last


def latency_phase(run: Scratch, args: argparse.Namespace, evaluator: Evaluator) -> dict[str, Any]:
    """(c): paced readings with breaches; each breaking reading's commit (and publish) -> its alert."""
    worker = WorkerProcess(run.env, run.workdir / "latency.log")
    try:
        worker.connected_at()
        time.sleep(1.0)  # the worker's subscription is up
        total, offered_s, breaches, last = _publish_paced(run, args)
        critical = " FROM alerts a JOIN alert_rules r ON r.id = a.rule_id WHERE r.severity = 'critical'"
        deadline = time.monotonic() + 120
        with psycopg.connect(run.url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute("SELECT count(*)" + critical).fetchone()
                if row is not None and row[0] >= breaches:
                    break
                time.sleep(0.5)
            rows = conn.execute(
                "SELECT extract(epoch FROM a.opened_at - a.source_committed_at),"
                " extract(epoch FROM a.opened_at - a.since)" + critical
            ).fetchall()
            extra = conn.execute(
                "SELECT count(*) FROM alerts a JOIN alert_rules r ON r.id = a.rule_id"
                " WHERE r.severity NOT IN ('critical', 'info')"
            ).fetchone()
        evaluated = evaluator.metric("hatang_alerts_evaluations_total")
    finally:
        worker.stop()
    return {"offered": total, "offered_s": offered_s, "breaches": breaches, "last": last,
            # An alert a catch-up (from latest_readings) opened before the fan-out delivered its
            # reading has no commit time: its publish time stands in (an upper bound).
            "lags": [float(r[0] if r[0] is not None else r[1]) for r in rows],
            "from_publish": sum(r[0] is None for r in rows),
            "publish_lags": [float(r[1]) for r in rows],
            "other_alerts": extra[0] if extra else None, "evaluations": evaluated}  # fmt: skip


def silence_phase(run: Scratch, args: argparse.Namespace, last: dict[str, float]) -> list[float]:
    """(d): a silence rule of ``--silence-s`` on devices (c) just stopped; each one's delay from its
    last reading to its alert's opening (the rules are added after the silence began: a sweep
    compares times, so a rule that existed before would open at the same sweep)."""
    probes = [d for d in run.devices[BREAKERS:] if d in last][:SILENCE_PROBES]
    with psycopg.connect(run.url, autocommit=True) as conn:
        org = conn.execute("SELECT id FROM organisations LIMIT 1").fetchone()
        assert org is not None
        for device in probes:
            conn.execute(
                "INSERT INTO alert_rules (organisation_id, name_vi, name_en, kind, severity, scope_kind,"
                " scope_value, subject, duration_s) VALUES (%s, 'im lặng', 'silence', 'silence', 'info',"
                " 'device', %s, 'device', %s)",
                (org[0], device, args.silence_s),
            )
        deadline = time.monotonic() + args.silence_s + SILENCE_GOAL_SLACK_S + 60
        query = (
            "SELECT d.external_id, extract(epoch FROM a.opened_at)::float8 FROM alerts a"
            " JOIN alert_rules r ON r.id = a.rule_id JOIN devices d ON d.id = a.subject_id"
            " WHERE r.kind = 'silence' AND r.severity = 'info'"
        )
        while time.monotonic() < deadline:
            opened: dict[str, float] = dict(conn.execute(query).fetchall())
            if len(opened) >= len(probes):
                break
            time.sleep(0.5)
    return [opened[d] - last[d] for d in probes if d in opened] + [math.inf] * (len(probes) - len(opened))


def _sides(run: Scratch, args: argparse.Namespace, env: dict[str, str]) -> dict[str, float]:
    """(a) and (b) in the order a, b, b, a (the evaluator running for both b's): a load that drifts
    during the run weighs on both sides alike. Each drain's readings have times of their own."""
    step = -(-args.messages // len(run.devices)) + 60
    rates: dict[str, list[float]] = {"a": [], "b": []}
    rates["a"].append(drain(run, args.messages, 0, "without-1.log"))
    print(f"(a) without the evaluator: {rates['a'][-1]:,.0f} readings/s", file=sys.stderr)
    evaluator = Evaluator(env, run.workdir / "alerts-b.log")
    try:
        evaluator.wait_ready()
        cpu_before = cpu_seconds(evaluator.proc.pid)
        for k in (1, 2):
            rates["b"].append(drain(run, args.messages, k * step, f"with-{k}.log"))
            print(f"(b) with the evaluator: {rates['b'][-1]:,.0f} readings/s", file=sys.stderr)
        drained = time.monotonic()
        seen = evaluator.wait_seen(2 * args.messages)
        behind_s = time.monotonic() - drained
        cpu_b = cpu_seconds(evaluator.proc.pid) - cpu_before
    finally:
        evaluator.stop()
    rates["a"].append(drain(run, args.messages, 3 * step, "without-2.log"))
    print(f"(a) without the evaluator: {rates['a'][-1]:,.0f} readings/s", file=sys.stderr)
    return {
        "without": sum(rates["a"]) / 2, "with": sum(rates["b"]) / 2, "seen": seen, "behind_s": behind_s,
        "cpu_b": cpu_b, "without_1": rates["a"][0], "with_1": rates["b"][0], "with_2": rates["b"][1],
        "without_2": rates["a"][1],
    }  # fmt: skip


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Every phase; the figures of the JSON line."""
    with scratch(settings, args.devices) as run:
        with psycopg.connect(run.url) as conn:
            rules = make_rules(conn, run.devices, args.rules)
        print(f"rules {sum(rules.values()):,} {rules}", file=sys.stderr)
        env = {
            **run.env,
            "HATANG_MQTT_URL": run.stack.mqtt_url("api"),  # the evaluator reads the fan-out as the API does
            "HATANG_ALERTS__CATCHUP_INTERVAL_S": "30",
            "HATANG_ALERTS__SILENCE_INTERVAL_S": "15",
        }
        measured = _sides(run, args, env)
        evaluator = Evaluator(env, run.workdir / "alerts-c.log")
        try:
            evaluator.wait_ready()
            lat = latency_phase(run, args, evaluator)
            print(f"(c) {len(lat['lags'])} alerts opened", file=sys.stderr)
            silences = silence_phase(run, args, lat["last"])
        finally:
            evaluator.stop()
    return figures(args, rules, measured, lat, silences)


def figures(
    args: argparse.Namespace, rules: dict[str, int], measured: dict[str, float], lat: dict[str, Any],
    silences: list[float],
) -> dict[str, Any]:  # fmt: skip
    """The JSON line's figures and whether every goal is met."""
    without, with_alerts, seen = measured["without"], measured["with"], measured["seen"]
    behind_s, cpu_b = measured["behind_s"], measured["cpu_b"]
    lags, publish_lags = lat["lags"], lat["publish_lags"]
    ratio = with_alerts / without
    p99 = quantile(lags, 0.99) if lags else math.nan
    silence_goal = args.silence_s + SILENCE_GOAL_SLACK_S
    silence_max = max(silences) if silences else math.nan
    ok = (
        ratio >= RATIO_GOAL and lags != [] and p99 < P99_GOAL_S and len(lags) == lat["breaches"]
        and silences != [] and silence_max <= silence_goal
    )  # fmt: skip

    def q(values: list[float], p: float) -> float | None:
        return round(quantile(values, p), 4) if values else None

    return {
        "benchmark": "alerts",
        "rules": sum(rules.values()),
        "rules_by_kind": rules,
        "devices": args.devices,
        "messages_per_side": args.messages,
        "ingest_without_alerts_readings_s": round(without),
        "ingest_with_alerts_readings_s": round(with_alerts),
        "ratio_with_vs_without": round(ratio, 3),
        # In the order they ran: a, b, b, a.
        "drains_readings_s": [round(measured[k]) for k in ("without_1", "with_1", "with_2", "without_2")],
        "evaluator_fanout_readings_seen_b": int(seen),
        # After (b) drained, how long the evaluator took to finish what ingest had committed.
        "evaluator_behind_after_b_s": round(behind_s, 2),
        # The evaluator's own CPU per reading in (b): what it takes from ingest, whatever the load.
        "evaluator_cpu_us_per_reading_b": round(cpu_b * 1e6 / max(seen, 1), 2),
        "latency_offered_readings_s": args.rate,
        "latency_achieved_readings_s": round(lat["offered"] / lat["offered_s"]),
        "breaches": lat["breaches"],
        "alerts_opened": len(lags),
        "alerts_without_commit_time": lat["from_publish"],
        "other_alerts": lat["other_alerts"],
        "open_latency_p50_s": q(lags, 0.5),
        "open_latency_p99_s": q(lags, 0.99),
        "open_latency_max_s": round(max(lags), 4) if lags else None,
        "publish_to_open_p50_s": q(publish_lags, 0.5),
        "publish_to_open_p99_s": q(publish_lags, 0.99),
        "silence_duration_s": args.silence_s,
        "silence_probes": len(silences),
        "silence_open_delay_p50_s": q(silences, 0.5) if silences and math.isfinite(silence_max) else None,
        "silence_open_delay_max_s": round(silence_max, 2) if math.isfinite(silence_max) else None,
        "goal_ratio": RATIO_GOAL,
        "goal_p99_s": P99_GOAL_S,
        "goal_silence_open_delay_s": silence_goal,
        "ok": ok,
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    result = measure(settings, args)
    rows = [
        ("rules", f"{result['rules']:,}", json.dumps(result["rules_by_kind"])),
        ("(a) ingest without alerts", f"{result['ingest_without_alerts_readings_s']:,} readings/s",
         f"drains a, b, b, a: {result['drains_readings_s']}"),
        ("(b) ingest with alerts", f"{result['ingest_with_alerts_readings_s']:,} readings/s",
         f"{result['ratio_with_vs_without']} x (a), goal >= {RATIO_GOAL}"),
        ("(b) evaluator CPU", f"{result['evaluator_cpu_us_per_reading_b']} us/reading",
         f"behind after (b): {result['evaluator_behind_after_b_s']} s"),
        (f"(c) commit -> open @ {args.rate:,.0f}/s",
         f"p50 {result['open_latency_p50_s']} s, p99 {result['open_latency_p99_s']} s",
         f"goal p99 < {P99_GOAL_S} s; achieved {result['latency_achieved_readings_s']:,}/s"),
        ("(c) publish -> open",
         f"p50 {result['publish_to_open_p50_s']} s, p99 {result['publish_to_open_p99_s']} s",
         "upper bound, with the publisher's queue"),
        ("alerts opened / breaches", f"{result['alerts_opened']} / {result['breaches']}",
         f"others: {result['other_alerts']}; opened by a catch-up (publish time used): "
         f"{result['alerts_without_commit_time']}"),
        (f"(d) silence {args.silence_s:g} s opens after",
         f"p50 {result['silence_open_delay_p50_s']} s, max {result['silence_open_delay_max_s']} s",
         f"goal <= {result['goal_silence_open_delay_s']:g} s ({result['silence_probes']} devices)"),
    ]  # fmt: skip
    for name, figure, note in rows:
        print(f"{name:<30} {figure:>38}  {note}")
    print(json.dumps(result))
    return 1 if args.check and not result["ok"] else 0
