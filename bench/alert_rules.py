"""The rules of ``hatang bench alerts``: ``--rules`` rules shaped like a city's, written with one COPY.

Owns :func:`make_rules` and the breaker devices' figures (``BREAKERS``, ``BREACH_PSI``, ``CLEAR_PSI``)
that the benchmark's phases use (bench/alerts.py); writes rules, runs no phase.
"""

from __future__ import annotations

from typing import Any

import psycopg

BREAKERS = 100  # devices whose floor trips in phase (c)
BREACH_PSI, CLEAR_PSI = 5.0, 40.0  # 0.34 bar trips "below 1 bar"; 2.76 bar clears past 1.5 bar


def make_rules(conn: psycopg.Connection[Any], devices: list[str], total: int) -> dict[str, int]:
    """``total`` rules over the fleet (see bench/alerts.py's docstring); counts by kind.

    Long because each rule shape is spelled out field by field, in the order bench/alerts.py's docstring
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
