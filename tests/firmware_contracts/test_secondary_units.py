"""RFC 8798 secondary units in SenML: accepted when the metric's unit is their primary unit (or a
relative of it), converted with the registry's exact factor, never approximated; unrelated units
are still refused."""

from __future__ import annotations

from fractions import Fraction

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_contracts import CompiledModel, normalise
from firmware_contracts.catalogue import load_catalogue
from firmware_contracts.errors import UnitError
from firmware_contracts.units import SECONDARY_UNITS, affine, registered_relatives

from .conftest import RECEIVED_AT


def _one(model: CompiledModel, name: str, unit: str, value: float) -> tuple[list[float], list[str]]:
    pack = [{"bn": "urn:dev:test:1:", "bt": RECEIVED_AT, "n": name, "u": unit, "v": value}]
    result = normalise(orjson.dumps(pack), RECEIVED_AT, model)
    return [r.value for r in result.readings], [r.reason for r in result.rejections]


def test_the_table_agrees_with_pint() -> None:
    """Each factor of the table is the physical one (pint knows most symbols): no typo in the data."""
    checked = 0
    for unit, (primary, scale) in SECONDARY_UNITS.items():
        try:
            derived = affine(unit, primary)
        except UnitError:  # a primary pint cannot spell (vars, VAs, J/m, kg/m3 ...)
            continue
        assert derived.apply(1.0) == pytest.approx(float(scale), rel=1e-12), unit
        checked += 1
    assert checked >= 15


def test_milliamperes_for_a_metric_in_amperes(compiled: dict[str, CompiledModel]) -> None:
    meter = compiled["meter1p-em115"]
    assert _one(meter, "current", "mA", 1234) == ([1.234], [])
    assert _one(meter, "voltage", "mV", 229400) == ([229.4], [])
    assert _one(meter, "power", "kW", 1.5) == ([1.5], [])  # the metric is in kW
    assert _one(meter, "power", "W", 1500) == ([1.5], [])
    # Unrelated or unregistered units are refused, as before.
    assert _one(meter, "current", "mV", 1)[1] == ["unit"]
    assert _one(meter, "voltage", "kA", 1)[1] == ["unit"]
    assert _one(meter, "current", "uA", 1)[1] == ["unit"]


def test_three_phase_currents_in_milliamperes(compiled: dict[str, CompiledModel]) -> None:
    meter = compiled["meter3p-em340"]
    assert _one(meter, "current_l2", "mA", 11900) == ([11.9], [])
    assert _one(meter, "energy", "kWh", 1)[1] == ["schema"]  # energy is a sum (s), not v


@given(st.integers(min_value=0, max_value=100_000_000))
def test_decimal_downscaling_is_correctly_rounded(milliamps: int) -> None:
    """A value in mA gives the double nearest to the exact value in A, every time."""
    conversion = registered_relatives("A")["mA"]
    exact = float(Fraction(milliamps) / 1000)
    assert conversion.apply(float(milliamps)) == exact
    assert conversion.invert(exact) == pytest.approx(milliamps, abs=1e-6)


def test_every_field_accepts_the_relatives_of_its_metric_unit(compiled: dict[str, CompiledModel]) -> None:
    accepted = 0
    for model in compiled.values():
        for field in model.fields:
            for unit in registered_relatives(_metric_unit(field.metric)):
                assert unit in field.senml_units, (model.model.id, field.metric, unit)
                accepted += 1
    assert accepted >= 20


def _metric_unit(metric: str) -> str:
    return load_catalogue()[metric].unit
