"""``hatang bench seen``: ingest's last_seen write, on ``devices`` (before migration 1200) and on
``device_seen`` (after), alternating in one process.

Owns the last-seen benchmark. In two scratch databases beside the configured one (the local stack's,
or the server of ``--url``; created and dropped by the run): one migrated up to 1100 (``last_seen`` a
column of ``devices``, readiness's update trigger on devices), one fully (``device_seen``). Both get
the same fleet: ``--devices`` active devices, two per essential asset, each of a model of its asset's
sector, with a broker secret hash and a firmware version as registered devices have. Then ingest's
write as ingest sends it (``ingest.sink``: arrays of up to ``--batch`` device ids in id order and
epoch seconds, prepared), batch by batch, one batch before then the same batch after (the order
swapped every batch), each in a transaction of its own:
* ``first``: every device's first sighting (``last_seen`` NULL before; the upsert's INSERT path);
* ``steady``: ``--sweeps`` sweeps over the whole fleet in random batches, each 60 s after the last
  (ingest.seen writes a device's last_seen once a minute; each device at a phase of its own, so one
  write in five enters a new 5-minute bucket of readiness's freshness), the UPDATE path.
Times are the client's, statement and commit apart, in µs per device. Prints a table, then one JSON
object as its last line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from hatang.migrate import available, migrate
from hatang.settings import Settings
from hatang.stack import Stack
from ingest import UPSERT_SEEN, array_literal
from registry import sync_contracts

# ingest.sink's _UPDATE_SEEN before migration 1200, verbatim.
BEFORE = """
    WITH locked AS (
        SELECT d.id, u.at
        FROM devices AS d
        JOIN (
            SELECT id, to_timestamp(at) AS at FROM unnest(%(ids)s::bigint[], %(ats)s::float8[]) AS v(id, at)
        ) AS u USING (id)
        WHERE d.id = ANY(%(ids)s::bigint[]) AND (d.last_seen IS NULL OR d.last_seen < u.at)
        ORDER BY d.id
        FOR NO KEY UPDATE OF d
    )
    UPDATE devices AS d SET last_seen = locked.at
    FROM locked
    WHERE d.id = locked.id AND (d.last_seen IS NULL OR d.last_seen < locked.at)
"""
AFTER = UPSERT_SEEN

_ASSETS = """
    INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, essential)
    SELECT 'bench-a-' || i, %(org)s, %(area)s, s.sectors[1 + i %% cardinality(s.sectors)], 'site', true
    FROM generate_series(0, %(assets)s - 1) AS i,
         (SELECT array_agg(DISTINCT sector ORDER BY sector) AS sectors FROM device_models) AS s
"""
_DEVICES = """
    INSERT INTO devices
        (external_id, model_id, organisation_id, asset_id, state, firmware_version, mqtt_secret_hash)
    SELECT 'bench-d-' || i, m.id, %(org)s, a.id, 'active', '1.4.2',
           '$7$101$' || repeat('x', 24) || '$' || repeat('y', 88)
    FROM generate_series(0, %(devices)s - 1) AS i
    JOIN assets a ON a.external_id = 'bench-a-' || (i / 2)
    CROSS JOIN LATERAL (SELECT id FROM device_models WHERE sector = a.sector ORDER BY id LIMIT 1) AS m
    ORDER BY i
"""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``bench seen``."""
    parser = subparsers.add_parser(
        "seen", help="ingest's last_seen write on devices (before 1200) vs device_seen (after)"
    )
    parser.add_argument("--devices", type=int, default=100_000, help="active devices (default 100,000)")
    parser.add_argument("--batch", type=int, default=5_000, help="devices per write (default 5,000)")
    parser.add_argument("--sweeps", type=int, default=5, help="steady sweeps over the fleet (default 5)")
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of one more batch each"
    )
    parser.add_argument(
        "--url", default=None, help="PostgreSQL server URL for the scratch databases (default: local stack)"
    )
    parser.set_defaults(func=_run)


def _migrate_before(url: str) -> None:
    """Every migration before 1200, as ``hatang migrate`` would have applied them."""
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in available():
            if migration.version < "1200":
                with conn.transaction():
                    conn.execute(migration.sql.encode())


def _fleet(url: str, *, devices: int) -> None:
    with psycopg.connect(url) as conn:
        sync_contracts(conn)
        with conn.transaction():
            org = conn.execute(
                "INSERT INTO organisations (slug, name) VALUES ('bench-seen', 'bench-seen') RETURNING id"
            ).fetchone()
            area = conn.execute(
                "INSERT INTO areas (code, name, level) VALUES ('bench-seen', 'bench-seen', 'province')"
                " RETURNING id"
            ).fetchone()
            assert org is not None
            assert area is not None
            params = {"org": org[0], "area": area[0], "assets": (devices + 1) // 2, "devices": devices}
            conn.execute(_ASSETS, params)
            conn.execute(_DEVICES, params)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _ids(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM devices ORDER BY id").fetchall()]


def _ats(ids: list[int], at: float) -> list[float]:
    """Each device's receive time: ``at`` plus a phase of its own within 5 minutes, so that a device
    enters a new 5-minute bucket every fifth sweep, a fifth of each batch at every sweep."""
    return [at + (device * 7919) % 300 for device in ids]


def _write(conn: psycopg.Connection[Any], query: str, ids: list[int], at: float) -> tuple[float, float, int]:
    """One batch as ingest writes it: (statement s, commit s, rows written)."""
    params = {"ids": array_literal(ids), "ats": array_literal(_ats(ids, at))}
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(query, params, prepare=True)
        rows = cur.rowcount
    executed = time.perf_counter()
    conn.commit()
    return executed - started, time.perf_counter() - executed, rows


def _sweep(
    conns: dict[str, psycopg.Connection[Any]],
    batches: list[list[int]],
    at: float,
    times: dict[str, list[tuple[float, float, int]]],
    flip: int,
) -> int:
    for k, batch in enumerate(batches):
        order = ("before", "after") if (k + flip) % 2 == 0 else ("after", "before")
        for name in order:
            times[name].append(_write(conns[name], BEFORE if name == "before" else AFTER, batch, at))
    return flip + len(batches)


def _per_device_us(samples: list[tuple[float, float, int]], sizes: list[int]) -> dict[str, float]:
    statement = [s / n * 1e6 for (s, _, _), n in zip(samples, sizes, strict=True)]
    total = [(s + c) / n * 1e6 for (s, c, _), n in zip(samples, sizes, strict=True)]
    return {
        "statement_us_median": round(statistics.median(statement), 2),
        "statement_us_mean": round(statistics.fmean(statement), 2),
        "with_commit_us_median": round(statistics.median(total), 2),
        "rows": sum(r for _, _, r in samples),
    }


def measure(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """Build both databases, alternate the writes; returns the JSON figures."""
    stack = Stack.from_settings(settings)
    started = [] if args.url else stack.up()
    server = args.url or stack.database_url
    tag = uuid.uuid4().hex[:8]
    names = {"before": f"hatang_bench_seen_before_{tag}", "after": f"hatang_bench_seen_after_{tag}"}
    with psycopg.connect(server, autocommit=True) as admin:
        for name in names.values():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    urls = {key: make_conninfo(server, dbname=name) for key, name in names.items()}
    try:
        _migrate_before(urls["before"])
        with psycopg.connect(urls["after"]) as conn:
            migrate(conn)
        for url in urls.values():
            _fleet(url, devices=args.devices)
        ids = _ids(urls["after"])
        assert ids == _ids(urls["before"])
        rng = random.Random(1200)
        conns = {key: psycopg.connect(url) for key, url in urls.items()}
        try:
            times: dict[str, dict[str, list[tuple[float, float, int]]]] = {
                phase: {"before": [], "after": []} for phase in ("first", "steady")
            }
            sizes: dict[str, list[int]] = {"first": [], "steady": []}
            at = datetime.now(UTC).timestamp() - 3600 * (args.sweeps + 2)
            flip = 0
            for phase, sweeps in (("first", 1), ("steady", args.sweeps)):
                for _ in range(sweeps):
                    order = ids[:]
                    rng.shuffle(order)
                    batches = [sorted(order[k : k + args.batch]) for k in range(0, len(order), args.batch)]
                    flip = _sweep(conns, batches, at, times[phase], flip)
                    sizes[phase] += [len(b) for b in batches]
                    at += 60.0
                if phase == "steady" and args.explain:
                    batch = sorted(rng.sample(ids, args.batch))
                    for key, conn in conns.items():
                        query = "EXPLAIN (ANALYZE, BUFFERS) " + (BEFORE if key == "before" else AFTER)
                        params = {"ids": array_literal(batch), "ats": array_literal(_ats(batch, at))}
                        plan = [row[0][:160] for row in conn.execute(query.encode(), params).fetchall()]
                        conn.commit()
                        print(f"-- {key}:", *plan, sep="\n")  # lines cut: the ids' array is long
                if phase == "first":
                    for conn in conns.values():  # both as autovacuum would leave them
                        conn.autocommit = True
                        conn.execute("VACUUM ANALYZE")
                        conn.autocommit = False
        finally:
            for conn in conns.values():
                conn.close()
        load = open("/proc/loadavg").read().split()[:3]  # noqa: SIM115 - one read, Linux only
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            for name in names.values():
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if started:
            stack.down(only=started)
    figures: dict[str, Any] = {"benchmark": "seen", "devices": args.devices, "batch": args.batch,
                               "sweeps": args.sweeps, "loadavg_after": " ".join(load)}  # fmt: skip
    for phase in ("first", "steady"):
        for key in ("before", "after"):
            for name, value in _per_device_us(times[phase][key], sizes[phase]).items():
                figures[f"{phase}_{key}_{name}"] = value
        figures[f"{phase}_ratio_after_vs_before"] = round(
            figures[f"{phase}_after_statement_us_median"] / figures[f"{phase}_before_statement_us_median"], 3
        )
    return figures


def _run(args: argparse.Namespace, settings: Settings) -> int:
    figures = measure(settings, args)
    for phase in ("first", "steady"):
        for key in ("before", "after"):
            print(
                f"{phase:6} {key:6} statement {figures[f'{phase}_{key}_statement_us_median']:8.2f} µs/device"
                f" (mean {figures[f'{phase}_{key}_statement_us_mean']:.2f}),"
                f" with commit {figures[f'{phase}_{key}_with_commit_us_median']:8.2f} µs/device,"
                f" rows {figures[f'{phase}_{key}_rows']:,}"
            )
    print(json.dumps(figures))
    return 0
