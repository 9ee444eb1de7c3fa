"""SenML base-field resolution against a straightforward reference implementation of RFC 8428 §4."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_contracts import compile_model, load_models, normalise

from .conftest import RECEIVED_AT

RA = RECEIVED_AT
MODEL = compile_model(load_models()[("meter3p-em340", 1)])
NAMES = [f.spec.senml_name for f in MODEL.fields] + ["unknown"]
UNITS = ["V", "A", "W", "kW", "var", "Wh", "kWh", "Hz", "/", None]


def reference(
    pack: list[dict[str, Any]], received_at: float
) -> list[tuple[int, str, str | None, float, float]]:
    """Resolve every record: (index, name, unit, value-or-sum, time), as RFC 8428 §4.6 reads."""
    base = {"bn": "", "bt": 0.0, "bu": None, "bv": 0.0, "bs": 0.0}
    resolved = []
    for index, record in enumerate(pack):
        for label in base:
            if label in record:
                base[label] = record[label]
        time = base["bt"] + record.get("t", 0.0)
        if time < 2**28:
            time += received_at
        value = base["bs"] + record["s"] if "s" in record else base["bv"] + record["v"]
        unit = record.get("u", base["bu"])
        resolved.append((index, base["bn"] + record["n"], unit, value, time))
    return resolved


def expected(pack: list[dict[str, Any]]) -> tuple[list[tuple[float, str, float]], list[int]]:
    """What the contract makes of the resolved records: readings, and the indices rejected."""
    readings, rejected, seen = [], [], set()
    for index, name, unit, value, time in reference(pack, RA):
        field = MODEL.by_senml_name.get(name.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
        conversion = field.senml_units.get(unit) if field else None
        wants_sum = field is not None and field.spec.senml_value == "s"
        has_sum = "s" in pack[index]
        if field is None or conversion is None or wants_sum != has_sum:
            rejected.append(index)
            continue
        canonical = conversion.apply(value)
        in_window = RA - 7 * 86400 <= time <= RA + 300 and field.low <= canonical <= field.high
        if not in_window or (time, field.metric) in seen:
            rejected.append(index)
        else:
            seen.add((time, field.metric))
            readings.append((time, field.metric, canonical))
    return readings, rejected


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {"n": draw(st.sampled_from(NAMES))}
    if draw(st.booleans()):
        record["bn"] = draw(st.sampled_from(["", "urn:dev:imei:356938035643809:", "feeder-12/meter-3/"]))
    for label, values in (
        ("bt", st.sampled_from([0.0, RA, RA - 3600, 2.0**28, RA + 10_000])),
        ("bu", st.sampled_from(UNITS[:-1])),
        ("bv", st.sampled_from([0.0, 100.0, -5.5])),
        ("bs", st.sampled_from([0.0, 18_000_000.0])),
        ("t", st.sampled_from([0.0, 60.0, -120.0, -900.0, 1e-3])),
        ("u", st.sampled_from(UNITS[:-1])),
    ):
        if draw(st.integers(0, 3)) == 0:
            record[label] = draw(values)
    kind = "s" if draw(st.integers(0, 4)) == 0 else "v"
    record[kind] = draw(st.sampled_from([0.0, 0.5, 1.0, 50.0, 230.0, 12_000.0, 1e9]))
    return record


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), min_size=1, max_size=12))
def test_resolution_matches_reference(pack: list[dict[str, Any]]) -> None:
    result = normalise(orjson.dumps(pack), RA, MODEL)
    want_readings, want_rejected = expected(pack)
    assert [(r.time, r.metric) for r in result.readings] == [(t, m) for t, m, _ in want_readings]
    for got, (_, _, value) in zip(result.readings, want_readings, strict=True):
        assert abs(got.value - value) <= 1e-9 * max(1.0, abs(value))
    assert [r.record for r in result.rejections] == want_rejected
