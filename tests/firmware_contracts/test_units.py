"""Unit conversions: known values, refusals, and round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_contracts import UnitError
from firmware_contracts.units import affine


@pytest.mark.parametrize(
    ("unit", "target", "value", "expected"),
    [
        ("degF", "Cel", 212.0, 100.0),
        ("degF", "Cel", 32.0, 0.0),
        ("K", "Cel", 273.15, 0.0),
        ("mph", "km/h", 1.0, 1.609344),
        ("m/s", "km/h", 10.0, 36.0),
        ("psi", "bar", 14.503773773, 1.0),
        ("kPa", "bar", 100.0, 1.0),
        ("Wh", "kWh", 1500.0, 1.5),
        ("L/s", "m3/h", 1.0, 3.6),
        ("gal/min", "m3/h", 1.0, 0.22712470704),
        ("var", "kvar", 1000.0, 1.0),
        ("/", "%", 0.5, 50.0),
        ("/min", "/h", 1.0, 60.0),
        ("ft", "m", 10.0, 3.048),
        ("NTU", "NTU", 3.0, 3.0),
        ("pH", "pH", 7.0, 7.0),
    ],
)
def test_known_conversions(unit: str, target: str, value: float, expected: float) -> None:
    assert math.isclose(affine(unit, target).apply(value), expected, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("unit", "target"),
    [
        ("NTU", "count"),  # arbitrary units convert only to themselves
        ("pH", "/"),
        ("count", "/h"),
        ("kVA", "kvar"),  # pint gives these one dimension; they are different quantities
        ("W", "kvar"),
        ("m", "s"),
        ("furlongs-ish", "m"),
    ],
)
def test_refused_conversions(unit: str, target: str) -> None:
    with pytest.raises(UnitError):
        affine(unit, target)


PAIRS = [("degF", "Cel"), ("mph", "km/h"), ("psi", "bar"), ("gal/min", "m3/h"), ("Wh", "kWh"), ("ft", "m")]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PAIRS), st.floats(min_value=-1e6, max_value=1e6))
def test_round_trip(pair: tuple[str, str], value: float) -> None:
    forward, backward = affine(*pair), affine(pair[1], pair[0])
    assert math.isclose(backward.apply(forward.apply(value)), value, rel_tol=1e-9, abs_tol=1e-6)
    assert math.isclose(forward.invert(forward.apply(value)), value, rel_tol=1e-9, abs_tol=1e-6)
