"""The normaliser's decisions: every reason code, the pack policy, times, formats, fast == detailed."""

from __future__ import annotations

import dataclasses

import cbor2
import orjson
import pytest

from firmware_contracts import (
    REJECTION_REASONS,
    CompiledModel,
    DeviceModel,
    Limits,
    Normalised,
    Reading,
    compile_model,
    normalise,
)
from firmware_contracts.normalise import _detailed

from .conftest import RECEIVED_AT

RA = RECEIVED_AT
DAY = 86400.0


def _j(value: object) -> bytes:
    return orjson.dumps(value)


def _loop(**extra: object) -> bytes:
    return _j({"ts": RA, "cnt": 10, "occ": 0.2, **extra})


# (model id, payload, expected reasons in order, expected number of readings)
CASES: list[tuple[str, bytes, list[str], int]] = [
    ("loopcount-il200", _loop(), [], 2),
    ("loopcount-il200", b'{"ts": ', ["malformed"], 0),
    ("loopcount-il200", b"\xff\xfe\x00", ["malformed"], 0),
    ("loopcount-il200", b"", ["malformed"], 0),
    ("loopcount-il200", b"NaN", ["malformed"], 0),
    ("radarspeed-rs350", b"\x82\x01", ["malformed"], 0),
    ("loopcount-il200", b"[" + b" " * 70000 + b"]", ["too_large"], 0),
    ("loopcount-il200", b"42", ["schema"], 0),
    ("loopcount-il200", _j({"ts": "yesterday", "cnt": 1, "occ": 0.1}), ["schema"], 0),
    ("loopcount-il200", _j({"cnt": 1, "occ": 0.1}), ["schema"], 0),
    ("loopcount-il200", _j({"ts": RA, "cnt": 1}), ["schema"], 1),  # occ is required
    ("loopcount-il200", _j({"ts": RA, "cnt": 1.5, "occ": 0.1}), ["schema"], 1),  # a count is an integer
    ("loopcount-il200", _j({"ts": RA, "cnt": True, "occ": 0.1}), ["schema"], 1),
    ("loopcount-il200", _j({"ts": RA}), ["schema", "schema"], 0),
    ("loopcount-il200", _j([]), ["schema"], 0),
    ("loopcount-il200", cbor2.dumps([{0: "count", 2: 1}]), ["schema"], 0),  # no CBOR in its contract
    ("radarspeed-rs350", cbor2.dumps({0: "speed"}), ["schema"], 0),
    ("loopcount-il200", _loop(colour="red"), ["unknown_field"], 2),
    ("loopcount-il200", _loop(occ=1.5), ["out_of_range"], 1),
    ("loopcount-il200", b'{"ts": %d, "cnt": 1%s, "occ": 0.1}' % (RA, b"0" * 400), ["out_of_range"], 1),
    ("loopcount-il200", b'{"ts": %d, "cnt": 1, "occ": 1e400}' % RA, ["out_of_range"], 1),
    ("loopcount-il200", _loop(ts=RA + 3600), ["time_in_future"], 0),
    ("loopcount-il200", _loop(ts=RA - 8 * DAY), ["too_old"], 0),
    ("loopcount-il200", _loop(ts=RA - 6 * DAY), [], 2),  # late data inside max_age_s is accepted
    ("loopcount-il200", _j([{"bn": "d:", "bt": RA, "n": "speed", "u": "km", "v": 3}]), ["unit"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "bogus", "v": 3}]), ["unknown_field"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count", "v": 3}, {"n": "count", "v": 4}]), ["duplicate"], 1),
    ("loopcount-il200", _j([{"bver": 11, "bt": RA, "n": "count", "v": 3}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count", "v": 3, "exp_": 1}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count", "vs": "3"}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count", "v": 3, "vb": True}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count"}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "-bad name", "v": 1}]), ["schema"], 0),
    ("loopcount-il200", _j([{"bt": RA, "n": "count", "v": 3, "x": 1}]), [], 1),  # unknown labels are ignored
    ("loopcount-il200", _j([7]), ["schema"], 0),
]


@pytest.mark.parametrize(("model_id", "payload", "reasons", "readings"), CASES)
def test_case(
    compiled: dict[str, CompiledModel], model_id: str, payload: bytes, reasons: list[str], readings: int
) -> None:
    result = normalise(payload, RA, compiled[model_id])
    assert [r.reason for r in result.rejections] == reasons, result.rejections
    assert len(result.readings) == readings
    assert all(r.message for r in result.rejections)


def _broken(model: CompiledModel) -> CompiledModel:
    def entry(payload: object, received_at: float) -> Normalised:
        raise RuntimeError("boom")

    return dataclasses.replace(model, entry=entry)


def test_internal_errors_are_values(compiled: dict[str, CompiledModel]) -> None:
    result = normalise(b"{}", RA, _broken(compiled["loopcount-il200"]))
    assert [r.reason for r in result.rejections] == ["internal"]


def test_every_reason_is_produced(compiled: dict[str, CompiledModel]) -> None:
    produced = {r.reason for m, p, _, _ in CASES for r in normalise(p, RA, compiled[m]).rejections}
    produced |= {r.reason for r in normalise(b"{}", RA, _broken(compiled["loopcount-il200"])).rejections}
    assert produced == REJECTION_REASONS


def test_not_bytes(compiled: dict[str, CompiledModel]) -> None:
    for payload in (None, "{}", 42, ["x"]):
        result = normalise(payload, RA, compiled["loopcount-il200"])  # type: ignore[arg-type]
        assert [r.reason for r in result.rejections] == ["malformed"]
    good = _loop()
    for view in (bytearray(good), memoryview(good)):
        assert len(normalise(view, RA, compiled["loopcount-il200"]).readings) == 2  # type: ignore[arg-type]


def test_pack_policy_keeps_good_records_and_names_bad_ones(compiled: dict[str, CompiledModel]) -> None:
    pack = [
        {"bn": "urn:dev:mac:0024befffe804ff1:", "bt": RA, "n": "count", "u": "count", "v": 12},
        {"n": "speed", "u": "furlong/fortnight", "v": 3},
        {"n": "occupancy", "u": "/", "v": 0.25},
        {"n": "speed", "u": "km/h", "v": 999},
    ]
    result = normalise(_j(pack), RA, compiled["loopcount-il200"])
    assert result.readings == [
        Reading(RA, "traffic_vehicle_count", 12.0),
        Reading(RA, "traffic_occupancy", 25.0),
    ]
    assert [(r.reason, r.record, r.field) for r in result.rejections] == [
        ("unit", 1, "speed"),
        ("out_of_range", 3, "speed"),
    ]


def test_duplicates_keep_the_first(compiled: dict[str, CompiledModel]) -> None:
    pack = [{"bt": RA, "n": "count", "v": 3}, {"n": "count", "v": 4}, {"n": "count", "v": 5, "t": 60}]
    result = normalise(_j(pack), RA + 60, compiled["loopcount-il200"])
    assert [r.value for r in result.readings] == [3.0, 5.0]
    assert [(r.reason, r.record) for r in result.rejections] == [("duplicate", 1)]


def test_invalid_base_fields_poison_the_rest_of_the_pack(compiled: dict[str, CompiledModel]) -> None:
    pack = [
        {"bt": RA, "n": "count", "v": 3},
        {"bn": 42, "n": "count", "v": 4, "t": 1},
        {"n": "occupancy", "v": 0.1},
    ]
    result = normalise(_j(pack), RA, compiled["loopcount-il200"])
    assert len(result.readings) == 1
    assert [(r.reason, r.record) for r in result.rejections] == [("schema", 1), ("schema", 2)]


def test_relative_times(compiled: dict[str, CompiledModel]) -> None:
    pack = [{"n": "count", "v": 3, "t": -60}, {"n": "count", "v": 4}, {"bt": 2**28, "n": "count", "v": 5}]
    result = normalise(_j(pack), RA, compiled["loopcount-il200"])
    assert [r.time for r in result.readings] == [RA - 60, RA]
    assert [r.reason for r in result.rejections] == ["too_old"]  # 2**28 is absolute: 1978


def test_senml_cbor_with_integer_labels_and_data(compiled: dict[str, CompiledModel]) -> None:
    pack = [{-2: "rs350/", -3: RA, 0: "speed", 1: "m/s", 2: 10}, {0: "flow", 8: b"\x00\x01"}]
    result = normalise(cbor2.dumps(pack), RA, compiled["radarspeed-rs350"])
    assert result.readings == [Reading(RA, "traffic_speed_mean", 36.0)]
    assert [(r.reason, r.record) for r in result.rejections] == [("schema", 1)]


def test_cbor_non_finite_values(compiled: dict[str, CompiledModel]) -> None:
    pack = [
        {-3: RA, 0: "speed", 2: float("nan")},
        {0: "flow", 2: float("inf")},
        {0: "speed", 2: 1.0, 6: float("nan")},
        {0: "flow", 2: 1.0, 6: float("inf")},
        {0: "queue", 2: 10**400},
    ]
    result = normalise(cbor2.dumps(pack), RA, compiled["radarspeed-rs350"])
    reasons = [r.reason for r in result.rejections]
    assert reasons == ["out_of_range", "out_of_range", "schema", "time_in_future", "out_of_range"]


def test_limits_apply(models: dict[tuple[str, int], DeviceModel]) -> None:
    limits = Limits(max_age_s=60, max_future_s=0, max_payload_bytes=64)
    model = compile_model(models[("loopcount-il200", 1)], limits)
    assert [r.reason for r in normalise(_loop(ts=RA - 61), RA, model).rejections] == ["too_old"]
    assert [r.reason for r in normalise(_loop(ts=RA + 1), RA, model).rejections] == ["time_in_future"]
    assert [r.reason for r in normalise(_loop(pad="x" * 64), RA, model).rejections] == ["too_large"]


def test_rfc3339_times(compiled: dict[str, CompiledModel]) -> None:
    base = {"oil_temp_f": 150, "load_pct": 50, "p_kw": 1, "q_kvar": 1, "ua": 230, "ub": 230, "uc": 230}
    local = normalise(_j({"timestamp": "2025-06-01T07:00:00+07:00", **base}), RA, compiled["xfmr-tm100"])
    assert {r.time for r in local.readings} == {RA}
    naive = normalise(_j({"timestamp": "2025-06-01T00:00:00", **base}), RA, compiled["xfmr-tm100"])
    assert [r.reason for r in naive.rejections] == ["schema"]


@pytest.mark.parametrize(("model_id", "payload", "reasons", "readings"), CASES)
def test_fast_paths_agree_with_the_detailed_path(
    compiled: dict[str, CompiledModel], model_id: str, payload: bytes, reasons: list[str], readings: int
) -> None:
    del reasons, readings
    model = compiled[model_id]
    if len(payload) <= model.limits.max_payload_bytes:
        assert normalise(payload, RA, model) == _detailed(payload, RA, model)
