"""The run report: what landed in the database for a run, compared with what was acknowledged.

Owns :class:`Landed` and :func:`count_landed` (the run's readings and dead letters, found by its
device set and time window), :func:`settle` (polls until the counts reach what was published or
stop moving), :func:`summarise` (pure: the report's JSON object) and :func:`render` (the human
summary). It must not publish or decide what a run sends.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from simulators.load import LoadResult, LoadSpec, run_load
from simulators.publisher import BrokerAddress, FanoutListener

_READINGS = """
    SELECT count(*) FROM readings
    WHERE device_id = ANY(%(ids)s) AND time >= to_timestamp(%(since)s) AND time < to_timestamp(%(until)s)
"""
_DEAD = """
    SELECT reason, count(*) FROM dead_letters
    WHERE received_at >= to_timestamp(%(since)s)
      AND (device_id = ANY(%(ids)s) OR starts_with(topic, %(unknown)s))
    GROUP BY reason
"""


@dataclass(frozen=True, slots=True)
class Landed:
    """What the database holds for a run: readings, and dead letters by reason."""

    readings: int
    dead_letters: dict[str, int]


def device_ids(conn: psycopg.Connection[Any], external_ids: Sequence[str]) -> list[int]:
    """The registry ids of ``external_ids`` (those that exist)."""
    query = "SELECT id FROM devices WHERE external_id = ANY(%s)"
    return [row[0] for row in conn.execute(query, (list(external_ids),)).fetchall()]


def count_landed(
    conn: psycopg.Connection[Any], *, ids: Sequence[int], since: float, until: float, unknown_prefix: str
) -> Landed:
    """The run's readings (its devices, times in ``[since, until)``) and dead letters since ``since``."""
    params = {"ids": list(ids), "since": since, "until": until, "unknown": unknown_prefix}
    row = conn.execute(_READINGS, params).fetchone()
    dead: dict[str, int] = dict(conn.execute(_DEAD, params).fetchall())
    return Landed(readings=row[0] if row else 0, dead_letters=dead)


def settle(
    database_url: str,
    *,
    external_ids: Sequence[str],
    since: float,
    until: float,
    unknown_prefix: str,
    expected_readings: int,
    expected_dead: Mapping[str, int],
    quiet_s: float = 15.0,
    timeout_s: float = 180.0,
) -> Landed:
    """Poll :func:`count_landed` until it reaches the expected counts, or stops moving for ``quiet_s``."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(database_url, autocommit=True) as conn:
        ids = device_ids(conn, external_ids)
        last: Landed | None = None
        last_change = time.monotonic()
        while True:
            landed = count_landed(conn, ids=ids, since=since, until=until, unknown_prefix=unknown_prefix)
            done = landed.readings >= expected_readings and all(
                landed.dead_letters.get(reason, 0) >= n for reason, n in expected_dead.items()
            )
            now = time.monotonic()
            if landed != last:
                last, last_change = landed, now
            if done or now - last_change > quiet_s or now > deadline:
                return landed
            time.sleep(0.5)


def _percentile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarise(
    spec: LoadSpec, result: LoadResult, landed: Landed, latencies: Sequence[float]
) -> dict[str, Any]:
    """The report's JSON object (see docs/load-testing.md for each key)."""
    ordered = sorted(latencies)
    lost = max(0, result.readings_acked - landed.readings)
    duplicated = max(0, landed.readings - result.readings_acked)
    dead_match = landed.dead_letters == result.dead_acked
    ok = lost == 0 and duplicated == 0 and dead_match and result.unacked == 0 and result.refused == 0
    return {
        "offered_msgs_s": round(spec.rate, 1),
        "published_msgs_s": round(result.sent / result.publish_s, 1) if result.publish_s > 0 else 0.0,
        "readings_published": result.readings_acked,
        "readings_landed": landed.readings,
        "lost": lost,
        "duplicated": duplicated,
        "dead_letters": dict(sorted(landed.dead_letters.items())),
        "dead_letters_expected": dict(sorted(result.dead_acked.items())),
        "latency_p50_s": _round(_percentile(ordered, 0.50)),
        "latency_p95_s": _round(_percentile(ordered, 0.95)),
        "latency_p99_s": _round(_percentile(ordered, 0.99)),
        "latency_samples": len(ordered),
        "messages_sent": result.sent,
        "messages_acked": result.acked,
        "messages_refused": result.refused,
        "messages_unacked": result.unacked,
        "refusals": dict(sorted(result.refusals.items())),
        "faults_injected": dict(sorted(result.faults_acked.items())),
        "silent_devices": result.silent_devices,
        "devices": len(spec.devices),
        "processes": spec.processes,
        "qos": spec.qos,
        "senml_pack": spec.pack,
        "duration_s": spec.duration_s,
        "publish_s": round(result.publish_s, 2),
        "behind_max_s": round(result.behind_max_s, 3),
        "ok": ok,
    }


def run_checked(
    spec: LoadSpec,
    *,
    database_url: str,
    listen: BrokerAddress | None,
    status: Callable[[str], None] | None = None,
    settle_quiet_s: float = 15.0,
) -> dict[str, Any]:
    """Run ``spec``, wait for ingest to land it, and return the report's JSON object.

    ``listen`` (the service account) subscribes to the fan-out for latencies; None skips them.
    """
    devices = [d.external_id for d in spec.devices]
    with contextlib.ExitStack() as stack:
        listener = None
        if listen is not None:
            listener = stack.enter_context(
                FanoutListener(listen, topic_prefix=spec.topic_prefix, devices=set(devices),
                               client_id=f"hatang-simulate-latency-{spec.run_id}")
            )  # fmt: skip
        result = run_load(spec, status=status)
        landed = settle(
            database_url, external_ids=devices, since=result.started - 1.0, until=result.ended + 3600.0,
            unknown_prefix=f"{spec.device_mount}{spec.topic_prefix}/devices/sim-unknown-{spec.run_id}-",
            expected_readings=result.readings_acked, expected_dead=result.dead_acked, quiet_s=settle_quiet_s,
        )  # fmt: skip
        time.sleep(0.5 if listener is not None else 0.0)  # the last fan-out follows the last commit
        latencies = list(listener.latencies) if listener is not None else []
    return summarise(spec, result, landed, latencies)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def render(summary: Mapping[str, Any]) -> str:
    """The human summary printed above the JSON line."""
    s = summary
    dead = s["dead_letters"]
    expected = s["dead_letters_expected"]
    reasons = sorted(set(dead) | set(expected))
    lines = [
        f"simulate run: {s['devices']} devices, {s['processes']} process(es), QoS {s['qos']}, "
        f"SenML pack {s['senml_pack']}, {s['duration_s']:g} s",
        f"  offered {s['offered_msgs_s']:,.0f} msg/s, published {s['published_msgs_s']:,.0f} msg/s "
        f"({s['messages_sent']:,} sent, {s['messages_acked']:,} acknowledged, "
        f"{s['messages_refused']} refused, {s['messages_unacked']} unacknowledged; "
        f"at most {s['behind_max_s']} s behind schedule)",
        f"  readings: {s['readings_published']:,} published, {s['readings_landed']:,} landed, "
        f"{s['lost']} lost, {s['duplicated']} duplicated",
    ]
    if reasons:
        lines.append("  dead letters (landed / injected): " + ", ".join(
            f"{r} {dead.get(r, 0)}/{expected.get(r, 0)}" for r in reasons))  # fmt: skip
    if summary["faults_injected"]:
        lines.append("  faults injected: " + ", ".join(f"{k} {v}" for k, v in s["faults_injected"].items()))
    if summary["silent_devices"]:
        lines.append(f"  devices gone silent: {summary['silent_devices']}")
    if summary["latency_samples"]:
        lines.append(
            f"  publish → commit latency: p50 {s['latency_p50_s']} s, p95 {s['latency_p95_s']} s, "
            f"p99 {s['latency_p99_s']} s ({s['latency_samples']:,} samples)"
        )
    lines.append("  result: " + ("OK" if summary["ok"] else "MISMATCH (see the counts above)"))
    return "\n".join(lines)
