"""Signal models and the message factory: pure properties, checked with the contracts' own normaliser."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

import pytest

from firmware_contracts import CompiledModel, Limits, compile_model, load_models, normalise
from simulators.messages import FaultPlan, MessageFactory, SimDevice
from simulators.signals import TrafficSignal, WaterSignal, signal_for
from simulators.waves import local_hour

MODELS = {key: compile_model(model, Limits()) for key, model in load_models().items()}
# Monday 2 June 2025, 00:00 in Viet Nam, and a week of samples every 7 minutes from there.
T0 = datetime(2025, 6, 1, 17, 0, tzinfo=UTC).timestamp()
WEEK = [T0 + i * 420.0 for i in range(7 * 24 * 60 // 7)]
REGISTERS = ("active_energy_import", "pv_energy_total", "streetlight_energy_total", "water_volume_total")
# register -> (its rate's metric, factor from the rate's unit to register units per hour)
RATES = {
    "active_energy_import": ("active_power", 1.0),
    "streetlight_energy_total": ("streetlight_power", 1e-3),
    "water_volume_total": ("water_flow", 1.0),
}


def _compiled(model_id: str) -> CompiledModel:
    return next(c for (mid, _), c in MODELS.items() if mid == model_id)


@pytest.mark.parametrize("key", sorted(MODELS))
def test_values_lie_in_every_range_and_normalise_back(key: tuple[str, int]) -> None:
    compiled = MODELS[key]
    ranges = {f.metric: (f.low, f.high) for f in compiled.fields}
    for d in range(6):
        signal = signal_for(compiled.model, seed=3, device=f"dev-{d}")
        for t in WEEK[:: 6 + d]:
            values = signal.values(t)
            assert set(values) == set(ranges)
            for metric, value in values.items():
                low, high = ranges[metric]
                assert low <= value <= high, (metric, value, t)


@pytest.mark.parametrize("key", sorted(MODELS))
@pytest.mark.parametrize("pack", [1, 7, 40])
def test_every_payload_normalises_without_rejections(key: tuple[str, int], pack: int) -> None:
    devices = [SimDevice(f"dev-{i}", "x", key) for i in range(3)]
    factory = MessageFactory(devices=devices, models=MODELS, topic_prefix="p", seed=5, pack=pack, run_id="r")
    for n, t in enumerate(WEEK[:300:3]):
        (out,) = factory.message(n % 3, t, None)
        result = normalise(out.payload, t + 1.0, MODELS[key])
        assert result.rejections == []
        assert len(result.readings) == out.readings == (pack if pack > 1 else len(MODELS[key].fields))
        assert max(r.time for r in result.readings) == pytest.approx(out.newest, abs=1e-6)


def test_signals_are_deterministic_per_seed() -> None:
    model = _compiled("meter3p-em340").model
    a = [signal_for(model, seed=1, device="m-1").values(t) for t in WEEK[:50]]
    b = [signal_for(model, seed=1, device="m-1").values(t) for t in WEEK[:50]]
    c = [signal_for(model, seed=2, device="m-1").values(t) for t in WEEK[:50]]
    d = [signal_for(model, seed=1, device="m-2").values(t) for t in WEEK[:50]]
    assert a == b
    assert a != c
    assert a != d


@pytest.mark.parametrize("model_id", ["meter3p-em340", "pvinv-sg50", "slc-n10", "magflow-mf500"])
def test_registers_only_grow_as_the_integral_of_their_rate(model_id: str) -> None:
    compiled = _compiled(model_id)
    signal = signal_for(compiled.model, seed=9, device="reg")
    (register,) = [f.metric for f in compiled.fields if f.metric in REGISTERS]
    series = [signal.values(t)[register] for t in WEEK]
    assert all(b >= a for a, b in itertools.pairwise(series))
    assert series[-1] > series[0]
    if register in RATES:
        # Over an evening hour (lamps switching on, the load peaking) the register grows by the
        # integral of its rate (trapezoids over minutes); the PV register only tracks on average.
        rate_metric, per_hour = RATES[register]
        t = T0 + 17.5 * 3600.0
        steps = [t + i * 60.0 for i in range(61)]
        rates = [signal.values(s)[rate_metric] * per_hour for s in steps]
        integral = (sum(rates) - (rates[0] + rates[-1]) / 2) / 60.0
        grown = signal.values(steps[-1])[register] - signal.values(t)[register]
        assert grown == pytest.approx(integral, rel=0.02)


def test_traffic_has_rush_hours_and_speed_falls_as_flow_rises() -> None:
    model = _compiled("radarspeed-rs350").model
    signal = signal_for(model, seed=4, device="radar-1")
    assert isinstance(signal, TrafficSignal)
    samples = [(local_hour(t), signal.values(t)) for t in WEEK]

    def mean_flow(start: float, end: float) -> float:
        flows = [v["traffic_flow"] for h, v in samples if start <= h < end]
        return sum(flows) / len(flows)

    morning, evening = mean_flow(7.5, 8.5), mean_flow(17.0, 18.0)
    assert morning > 1.3 * mean_flow(10.5, 14.5)
    assert evening > 1.3 * mean_flow(10.5, 14.5)
    assert mean_flow(1.0, 4.0) < 0.3 * morning
    by_flow = sorted((v["traffic_flow"], v["traffic_speed_mean"]) for _, v in samples)
    for (q1, v1), (q2, v2) in itertools.pairwise(by_flow):
        if q2 > q1:
            assert v2 < v1
    rush = [v for h, v in samples if 7.5 <= h < 8.5]
    assert max(v["traffic_queue_length"] for v in rush) > 0


def test_water_pressure_moves_against_flow_and_the_tank_stays_in_its_band() -> None:
    signal = signal_for(_compiled("pressurelog-pl20").model, seed=2, device="pl-1")
    flows = [signal.values(t)["water_flow"] for t in WEEK]
    pressures = [signal.values(t)["water_pressure"] for t in WEEK]
    mf, mp = sum(flows) / len(flows), sum(pressures) / len(pressures)
    cov = sum((f - mf) * (p - mp) for f, p in zip(flows, pressures, strict=True))
    assert cov < 0
    sonde = signal_for(_compiled("sonde-wq6").model, seed=2, device="wq-1")
    assert isinstance(sonde, WaterSignal)
    levels = [sonde.values(t)["water_level"] for t in WEEK]
    assert max(levels) - min(levels) > 0.5 * sonde.tank_swing_m
    assert all(abs(level - sonde.tank_mid_m) <= sonde.tank_swing_m * 1.05 for level in levels)


def test_turbidity_events_happen_and_fade() -> None:
    model = _compiled("sonde-wq6").model
    peaks = []
    for d in range(30):
        signal = signal_for(model, seed=1, device=f"wq-{d}")
        peaks.append(max(signal.values(t)["water_turbidity"] for t in WEEK))
    assert sum(p > 10 for p in peaks) >= 5  # events: a few per device-month, visible across 30 devices
    assert sum(p < 2 for p in peaks) >= 1  # and quiet weeks


def test_street_lights_are_on_at_night_only() -> None:
    signal = signal_for(_compiled("slc-n10").model, seed=1, device="slc-1")
    for t in WEEK:
        h = local_hour(t)
        on = signal.values(t)["streetlight_on"]
        if h >= 19.0 or h < 5.0:
            assert on == 1.0
        elif 7.0 <= h < 17.5:
            assert on == 0.0


def test_fault_messages_produce_their_reason() -> None:
    key = ("meter3p-em340", 1)
    factory = MessageFactory(devices=[SimDevice("m-1", "x", key)], models=MODELS, topic_prefix="p", seed=1,
                             pack=1, run_id="r")  # fmt: skip
    t = WEEK[10]
    (malformed,) = factory.message(0, t, "malformed")
    (out_of_range,) = factory.message(0, t + 1, "out_of_range")
    (skewed,) = factory.message(0, t + 2, "clock_skew")
    (unknown,) = factory.message(0, t + 3, "unknown_device")
    first, second = factory.message(0, t + 4, "duplicate")
    assert (malformed.dead, malformed.readings) == (("malformed",), 0)
    assert (out_of_range.dead, out_of_range.readings) == (("out_of_range",), len(MODELS[key].fields) - 1)
    assert (skewed.dead, skewed.readings) == (("time_in_future",), 0)
    assert (unknown.dead, unknown.via_service) == (("unknown_device",), True)
    assert unknown.topic.startswith("p/devices/sim-unknown-r-")
    assert first.payload == second.payload
    assert (first.readings, second.readings) == (len(MODELS[key].fields), 0)
    assert math.isclose(first.newest, t + 4)


def test_fault_plan_draws_each_class_in_proportion() -> None:
    plan = FaultPlan(malformed=0.1, unknown_device=0.05, out_of_range=0.1, clock_skew=0.05, duplicate=0.2)
    draws = [plan.draw(i / 1000) for i in range(1000)]
    assert draws.count("malformed") == 100
    assert draws.count("duplicate") == 200
    assert draws.count(None) == 500
    with pytest.raises(ValueError, match="fractions"):
        FaultPlan(malformed=0.6, duplicate=0.6)
