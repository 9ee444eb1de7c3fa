"""``hatang bench ingest``: the command, the order of the phases and the figures they give.

Owns the run: the phases in order, the JSON figures and the table, on a scratch database and topic
prefix (``scratch``). The phases' own code lives beside it (``ceilings``, ``worker``, ``latency``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import psycopg

from bench.ingest.ceilings import bare_drain, raw_copy, stock_drain, touch_session
from bench.ingest.figures import RATIO_GOAL, bucket_quantile, cpu_budget, per_message_us, quantile
from bench.ingest.latency import latency
from bench.ingest.load import Publisher, pack, single
from bench.ingest.minimal import minimal_drain
from bench.ingest.scratch import PER_PACK, Scratch, pack_start, scratch, truncate
from bench.ingest.worker import WorkerProcess
from hatang.settings import Settings
from ingest import tune_interpreter


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench ingest``."""
    parser = subparsers.add_parser("ingest", help="ingest end to end beside raw COPY and a bare subscriber")
    parser.add_argument(
        "--messages",
        type=int,
        default=200_000,
        help="single-reading messages (default 200,000: the bare drain lasts about a second)",
    )
    parser.add_argument("--packs", type=int, default=4_000, help="50-record SenML packs (default 4,000)")
    parser.add_argument("--devices", type=int, default=500, help="devices in the fleet (default 500)")
    parser.add_argument("--rate", type=float, default=5_000, help="offered msg/s of the latency phase")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="length of the latency phase")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.set_defaults(func=_run)


# Goals (issue 15): hatang against the minimal correct ingester on the same messages, against raw
# COPY on packs, and publish -> commit latency.
GOALS: dict[str, float] = {
    "ratio_single_vs_minimal_min": 0.7,
    "ratio_pack_vs_minimal_min": 0.8,
    "ratio_pack_vs_copy_min": 0.5,
    "latency_p99_max_s": 1.0,
}


def _per_cpu_second(readings: int, cpu: dict[str, float]) -> float | None:
    """Readings per CPU-second of the phase's process, broker and database (None: not all measured)."""
    if "postgresql" not in cpu or "mosquitto" not in cpu:
        return None
    return round(readings / sum(cpu.values()))


def phase_copy(run: Scratch, packs: int) -> float:
    """(a) raw COPY of the pack phase's readings; readings a second."""
    readings = [
        (pack_start(run, i) + k, run.ids[run.devices[i % len(run.devices)]], 20.0 + k / 10)
        for i in range(packs)
        for k in range(PER_PACK)
    ]
    return raw_copy(run.url, readings, run.batch, run.metric_id)


def phase_single(run: Scratch, messages: int) -> dict[str, Any]:
    """(b), (b') and (c) on single-reading messages: queue them for the three sessions, drain each."""
    worker_spec = run.spec(run.group, f"{run.group}-w1")
    bare_spec = run.spec(f"{run.group}-bare", f"{run.group}-bare-1")
    stock_spec = run.spec(f"{run.group}-stock", f"{run.group}-stock-1")
    minimal_spec = run.spec(f"{run.group}-min", f"{run.group}-min-1")
    asyncio.run(touch_session(minimal_spec))
    asyncio.run(touch_session(worker_spec))
    asyncio.run(touch_session(bare_spec))
    asyncio.run(touch_session(stock_spec))
    publisher = Publisher(run.stack.mqtt_url("simulator"))
    for i in range(messages):
        publisher.send(run.topic(i), single(run.base + i // len(run.devices), 30.0 + i % 40))
    publisher.close()
    tune_interpreter()  # the settings the worker runs with, for the subscribers measured here
    bare_meter = run.meter("subscriber", os.getpid())
    bare_meter.start()
    bare_s = asyncio.run(bare_drain(bare_spec, messages, run.batch))
    bare_cpu = bare_meter.stop()
    stock_s = asyncio.run(stock_drain(stock_spec, messages))
    minimal_meter = run.meter("ingester", os.getpid())
    minimal_meter.start()
    minimal_s = asyncio.run(
        minimal_drain(
            minimal_spec, run.url, expected=messages, per_message=1, ids=run.ids, metric_id=run.metric_id
        )
    )
    minimal_cpu = minimal_meter.stop()
    truncate(run.url)  # the worker stores the same readings next
    worker = WorkerProcess(run.env, run.workdir / "single.log")
    try:
        single_meter = run.meter("worker", worker.proc.pid)
        began = worker.connected_at()
        single_meter.start()
        single_s = worker.wait_stored(messages) - began
        single_cpu = single_meter.stop()
        commits = worker.buckets("hatang_ingest_commit_seconds")
    finally:
        worker.stop()
    return {
        "bare_s": bare_s,
        "bare_cpu": bare_cpu,
        "stock_s": stock_s,
        "minimal_s": minimal_s,
        "minimal_cpu": minimal_cpu,
        "single_s": single_s,
        "single_cpu": single_cpu,
        "commits": commits,
    }


def phase_packs_and_latency(run: Scratch, args: argparse.Namespace) -> dict[str, Any]:
    """(c) packs queued while the worker is away, then drained; (d) latency with that worker live."""
    minimal_spec = run.spec(f"{run.group}-minpack", f"{run.group}-minpack-1")
    asyncio.run(touch_session(minimal_spec))
    publisher = Publisher(run.stack.mqtt_url("simulator"))
    for i in range(args.packs):
        publisher.send(run.topic(i), pack(pack_start(run, i), [20.0 + k / 10 for k in range(PER_PACK)]))
    publisher.close()
    minimal_meter = run.meter("ingester", os.getpid())
    minimal_meter.start()
    minimal_pack_s = asyncio.run(
        minimal_drain(
            minimal_spec, run.url, expected=args.packs * PER_PACK, per_message=PER_PACK, ids=run.ids,
            metric_id=run.metric_id,
        )
    )  # fmt: skip
    minimal_pack_cpu = minimal_meter.stop()
    truncate(run.url, keep_after=run.base)  # the single phase's readings stay (as the worker left them)
    worker = WorkerProcess(run.env, run.workdir / "packs.log")
    try:
        pack_meter = run.meter("worker", worker.proc.pid)
        began = worker.connected_at()
        pack_meter.start()
        pack_s = worker.wait_stored(args.packs * PER_PACK) - began
        pack_cpu = pack_meter.stop()
        lag_before = worker.buckets("hatang_ingest_lag_seconds")
        latencies, offered = latency(
            run.stack.mqtt_url("simulator"), run.prefix, run.devices, rate=args.rate,
            seconds=args.latency_seconds, workdir=run.workdir, mount=run.mount,
        )  # fmt: skip
        time.sleep(1.0)
        lag_after = worker.buckets("hatang_ingest_lag_seconds")
        duplicates = worker.metric("hatang_ingest_readings_duplicate_total")
    finally:
        worker.stop()
    lag = {bound: lag_after[bound] - lag_before.get(bound, 0.0) for bound in sorted(lag_after)}
    return {
        "pack_s": pack_s,
        "pack_cpu": pack_cpu,
        "minimal_pack_s": minimal_pack_s,
        "minimal_pack_cpu": minimal_pack_cpu,
        "latencies": latencies,
        "offered": offered,
        "lag": lag,
        "duplicates": duplicates,
    }


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase; returns the figures of the JSON line."""
    with scratch(settings, args.devices, messages=args.messages, packs=args.packs) as run:
        copy_rate = phase_copy(run, args.packs)
        one = phase_single(run, args.messages)
        packs = phase_packs_and_latency(run, args)
        with psycopg.connect(run.url) as conn:
            row = conn.execute(
                "SELECT count(*), count(DISTINCT (device_id, metric_id, time)) FROM readings"
            ).fetchone()
            assert row is not None
            rows, distinct = int(row[0]), int(row[1])
    expected = args.messages + args.packs * PER_PACK + packs["offered"]
    return figures(settings, args, copy_rate, one, packs, rows=rows, distinct=distinct, expected=expected)


def figures(
    settings: Settings,
    args: argparse.Namespace,
    copy_rate: float,
    one: dict[str, Any],
    packs: dict[str, Any],
    *,
    rows: int,
    distinct: int,
    expected: int,
) -> dict[str, Any]:
    """The JSON line's figures from the phases' measurements (one key per figure, hence its length)."""
    single_rate = args.messages / one["single_s"]
    bare_rate = args.messages / one["bare_s"]
    pack_rate = args.packs * PER_PACK / packs["pack_s"]
    bare_us = per_message_us(one["bare_cpu"], args.messages)
    single_us = per_message_us(one["single_cpu"], args.messages)
    latencies, commits, lag = packs["latencies"], one["commits"], packs["lag"]
    minimal_rate = args.messages / one["minimal_s"]
    pack_readings = args.packs * PER_PACK
    minimal_pack_rate = pack_readings / packs["minimal_pack_s"]
    found = {
        "ratio_single_vs_minimal": round(single_rate / minimal_rate, 3),
        "ratio_pack_vs_minimal": round(pack_rate / minimal_pack_rate, 3),
        "ratio_pack_vs_copy": round(pack_rate / copy_rate, 3),
        "latency_p99_s": round(quantile(latencies, 0.99), 4),
    }
    ok = (
        found["ratio_single_vs_minimal"] >= GOALS["ratio_single_vs_minimal_min"]
        and found["ratio_pack_vs_minimal"] >= GOALS["ratio_pack_vs_minimal_min"]
        and found["ratio_pack_vs_copy"] >= GOALS["ratio_pack_vs_copy_min"]
        and found["latency_p99_s"] < GOALS["latency_p99_max_s"]
    )
    return {
        **found,
        "minimal_single_msgs_s": round(minimal_rate),
        "minimal_pack_readings_s": round(minimal_pack_rate),
        "single_readings_per_cpu_s": _per_cpu_second(args.messages, one["single_cpu"]),
        "minimal_single_readings_per_cpu_s": _per_cpu_second(args.messages, one["minimal_cpu"]),
        "pack_readings_per_cpu_s": _per_cpu_second(pack_readings, packs["pack_cpu"]),
        "minimal_pack_readings_per_cpu_s": _per_cpu_second(pack_readings, packs["minimal_pack_cpu"]),
        "goals": GOALS,
        "ok": ok,
        "benchmark": "ingest",
        "batch_size": settings.ingest.batch_size,
        "flush_interval_ms": settings.ingest.flush_interval_ms,
        "messages": args.messages,
        "packs": args.packs,
        "raw_copy_readings_s": round(copy_rate),
        "bare_sub_msgs_s": round(bare_rate),
        "single_msgs_s": round(single_rate),
        "ratio_single_vs_bare": round(single_rate / bare_rate, 3),
        "stock_sub_msgs_s": round(args.messages / one["stock_s"]),
        "ratio_single_vs_stock": round(single_rate * one["stock_s"] / args.messages, 3),
        "bare_cpu_us_per_msg": bare_us,
        "single_cpu_us_per_msg": single_us,
        "cpu_budget": cpu_budget(bare_us, single_us, bare_rate),
        # Share of one core the worker got while draining: near 1.0, it is CPU-bound on its own work.
        "single_worker_cpu_share": round(one["single_cpu"]["worker"] / one["single_s"], 2),
        "single_commit_p50_le_s": bucket_quantile(commits, 0.5),
        "single_commit_p99_le_s": bucket_quantile(commits, 0.99),
        "pack_readings_s": round(pack_rate),
        "pack_msgs_s": round(args.packs / packs["pack_s"]),
        "latency_offered_msgs_s": args.rate,
        "latency_messages": packs["offered"],
        "latency_received": len(latencies),
        "latency_p50_s": round(quantile(latencies, 0.50), 4),
        "latency_max_s": round(max(latencies, default=float("nan")), 4),
        "latency_mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
        "commit_lag_p50_le_s": bucket_quantile(lag, 0.50),
        "commit_lag_p99_le_s": bucket_quantile(lag, 0.99),
        "lost": max(0, expected - distinct),
        "duplicated": rows - distinct + max(0, distinct - expected),
        "duplicates_skipped": int(packs["duplicates"]),
    }


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark, print its table and the JSON line; 1 when ``--check`` and a goal is missed.

    Long because the table is one literal, a row per figure, read top to bottom as it prints.
    """
    result = measure(settings, args)
    rows = [
        ("(a) raw COPY into readings", f"{result['raw_copy_readings_s']:,} readings/s", ""),
        ("(b) bare subscriber (drain)", f"{result['bare_sub_msgs_s']:,} msg/s", ""),
        (
            "(b') aiomqtt as shipped (drain)",
            f"{result['stock_sub_msgs_s']:,} msg/s",
            f"(c) is {result['ratio_single_vs_stock']} x this",
        ),
        (
            "(c) hatang, single readings",
            f"{result['single_msgs_s']:,} msg/s",
            f"{result['ratio_single_vs_bare']} x (b)",
        ),
        (
            "(m) minimal correct ingester, single",
            f"{result['minimal_single_msgs_s']:,} msg/s",
            f"(c) is {result['ratio_single_vs_minimal']} x this"
            f" (goal {GOALS['ratio_single_vs_minimal_min']})",
        ),
        (
            "(m) minimal correct ingester, packs",
            f"{result['minimal_pack_readings_s']:,} readings/s",
            f"(c) is {result['ratio_pack_vs_minimal']} x this (goal {GOALS['ratio_pack_vs_minimal_min']})",
        ),
        (
            "(c) hatang, 50-record packs",
            f"{result['pack_readings_s']:,} readings/s",
            f"{result['ratio_pack_vs_copy']} x (a)",
        ),
        (
            f"(d) latency @ {result['latency_offered_msgs_s']:,.0f} msg/s",
            f"p50 {result['latency_p50_s']} s, p99 {result['latency_p99_s']} s",
            f"{result['latency_received']:,}/{result['latency_messages']:,} seen",
        ),
        ("lost / duplicated", f"{result['lost']} / {result['duplicated']}", ""),
    ]
    budget = result["cpu_budget"]
    if budget is not None:
        bare, single = result["bare_cpu_us_per_msg"], result["single_cpu_us_per_msg"]
        rows += [
            ("CPU us/msg, (b)", " ".join(f"{k} {v}" for k, v in bare.items()), ""),
            ("CPU us/msg, (c) single", " ".join(f"{k} {v}" for k, v in single.items()), ""),
            ("best (c)/(b) on these cores", f"{budget['ratio_ceiling']}", "if hatang's own work were free"),
            (
                "hatang's own work, us/msg",
                f"{budget['own_us']}",
                f"{budget['own_budget_us']} for (c)/(b) = {RATIO_GOAL}",
            ),
        ]
    if result["single_readings_per_cpu_s"] is not None:
        rows += [
            (
                "readings per CPU-s, single",
                f"{result['single_readings_per_cpu_s']:,}",
                f"minimal {result['minimal_single_readings_per_cpu_s']:,} (worker+broker+PostgreSQL)",
            ),
            (
                "readings per CPU-s, packs",
                f"{result['pack_readings_per_cpu_s']:,}",
                f"minimal {result['minimal_pack_readings_per_cpu_s']:,}",
            ),
        ]
    rows.append(("ok", str(result["ok"]), ""))
    for name, figure, ratio in rows:
        print(f"{name:<36} {figure:>34}  {ratio}")
    print(json.dumps(result))
    return 1 if args.check and not result["ok"] else 0
