"""Hypothesis properties of the normaliser: round trips, robustness, fast path == detailed path."""

from __future__ import annotations

import math
from typing import Any

import cbor2
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_contracts import (
    REJECTION_REASONS,
    CompiledModel,
    Limits,
    compile_model,
    encode_native,
    encode_senml,
    load_models,
)
from firmware_contracts.normalise import _detailed
from firmware_contracts.normalise import normalise as normalise_

from .conftest import RECEIVED_AT

RA = RECEIVED_AT
COMPILED = [compile_model(m, Limits()) for m in load_models().values()]
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _value(field: Any) -> st.SearchStrategy[float]:
    """Canonical values the field can carry: integers in firmware units for integer fields."""
    if field.spec.type == "boolean":
        return st.sampled_from([0.0, 1.0])
    if field.spec.type == "integer":
        ends = sorted((field.native.invert(field.low), field.native.invert(field.high)))
        return st.integers(math.ceil(ends[0]), math.floor(ends[1])).map(field.native.apply)
    # Keep clear of the rounding slack compile_model adds to the ends: encoding converts twice.
    slack = 2e-12 * max(abs(field.low), abs(field.high))
    return st.floats(field.low + slack, field.high - slack, allow_nan=False)


@st.composite
def readings_of(draw: st.DrawFn, model: CompiledModel) -> dict[str, float]:
    chosen = [f for f in model.fields if f.spec.required or draw(st.booleans())]
    if not chosen:
        chosen = [draw(st.sampled_from(model.fields))]
    return {f.metric: draw(_value(f)) for f in chosen}


times = st.floats(RA - 7 * 86400 + 1, RA + 299, allow_nan=False).map(lambda t: round(t, 3))


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)


def _in_ranges(model: CompiledModel, readings: list[Any]) -> bool:
    by_metric = {f.metric: f for f in model.fields}
    return all(by_metric[r.metric].low <= r.value <= by_metric[r.metric].high for r in readings)


@FAST
@given(st.data())
def test_native_payloads_normalise_back(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from([m for m in COMPILED if m.native]))
    values = data.draw(readings_of(model))
    time = data.draw(times)
    result = normalise_(encode_native(model, time, values), RA, model)
    assert result.rejections == []
    assert {r.metric for r in result.readings} == set(values)
    for reading in result.readings:
        assert math.isclose(reading.time, time, abs_tol=1e-3)
        assert _close(reading.value, values[reading.metric])
    assert _in_ranges(model, result.readings)


@FAST
@given(st.data(), st.booleans())
def test_senml_packs_normalise_back(data: st.DataObject, cbor: bool) -> None:
    model = data.draw(st.sampled_from([m for m in COMPILED if (m.senml_cbor if cbor else m.senml_json)]))
    rows = []
    for time in sorted(set(data.draw(st.lists(times, min_size=1, max_size=5)))):
        rows += [(time, metric, value) for metric, value in data.draw(readings_of(model)).items()]
    base = data.draw(st.sampled_from(["", "urn:dev:mac:0024befffe804ff1:", "site-7/pump-2/"]))
    result = normalise_(encode_senml(model, rows, base_name=base, cbor=cbor), RA, model)
    assert result.rejections == []
    assert [(r.time, r.metric) for r in result.readings] == [(t, m) for t, m, _ in rows]
    assert all(_close(r.value, v) for r, (_, _, v) in zip(result.readings, rows, strict=True))
    assert _in_ranges(model, result.readings)


def _check(model: CompiledModel, payload: Any) -> None:
    result = normalise_(payload, RA, model)
    assert {r.reason for r in result.rejections} <= REJECTION_REASONS - {"internal"}
    assert all(isinstance(r.message, str) and r.message for r in result.rejections)
    assert result.readings or result.rejections  # nothing vanishes without a word


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(COMPILED), st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(model: CompiledModel, payload: bytes) -> None:
    _check(model, payload)
    _check(model, b"{" + payload)
    _check(model, b"[" + payload)
    _check(model, b"\x81" + payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(st.sampled_from(COMPILED), json_values)
def test_json_of_any_shape_never_raises(model: CompiledModel, value: Any) -> None:
    try:
        payload = orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits: spell them out
        payload = str(value).encode()
    _check(model, payload)
    _check(model, cbor2.dumps([value]))


labels = st.sampled_from(
    ["bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t", "ut", "x_"]
)
odd = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.binary(max_size=3)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)


@FAST
@given(st.sampled_from(COMPILED), st.lists(st.dictionaries(labels, odd, max_size=6), max_size=6))
def test_records_of_any_content_never_raise(model: CompiledModel, pack: list[dict[str, Any]]) -> None:
    _check(model, _json_or_skip(pack))
    _check(model, cbor2.dumps(pack))  # NaN, Infinity, bytes: all CBOR can carry


def _json_or_skip(pack: list[dict[str, Any]]) -> bytes:
    try:
        return orjson.dumps(pack)
    except (TypeError, orjson.JSONEncodeError):
        return b"[]"


@FAST
@given(st.data())
def test_native_fast_path_agrees_with_detailed_path(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from([m for m in COMPILED if m.native]))
    body = orjson.loads(encode_native(model, data.draw(times), data.draw(readings_of(model))))
    for key in data.draw(st.lists(st.sampled_from(sorted(body)), max_size=2)):
        body[key] = data.draw(json_scalars)
    try:
        payload = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return
    assert normalise_(payload, RA, model) == _detailed(payload, RA, model)


def test_deep_nesting_and_oversize() -> None:
    model = next(m for m in COMPILED if m.model.id == "radarspeed-rs350")
    roomy = compile_model(model.model, Limits(max_payload_bytes=10_000_000))
    for payload in (
        b"[" * 50_000 + b"]" * 50_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"\x81" * 70_000 + b"\x80",
    ):
        assert [r.reason for r in normalise_(payload, RA, model).rejections] == ["too_large"]
        assert [r.reason for r in normalise_(payload, RA, roomy).rejections] in (["malformed"], ["schema"])
