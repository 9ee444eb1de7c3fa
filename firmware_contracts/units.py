"""Unit symbols and the affine conversions between them.

Owns the mapping from SenML/UCUM unit symbols to pint, and :func:`affine`, which derives the
``(scale, offset)`` pair turning a value in one unit into another (``canonical = raw * scale +
offset``). pint does the physics; this module only spells the symbols pint does not parse the
SenML way (``Cel``, ``m3/h``, ``kvar``, ``/h`` ...). Everything here runs when a contract is
compiled, never per message: pint's registry is built lazily on first use and then cached.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache
from typing import Any, NamedTuple

from firmware_contracts.errors import UnitError

# SenML/UCUM symbols pint would reject or misread (pint parses "pH" as picohenry), as pint expressions.
_PINT_SPELLING: dict[str, str] = {
    "Cel": "degC",
    "/": "dimensionless",
    "1": "dimensionless",
    "/h": "1/hour",
    "/min": "1/minute",
    "/s": "1/second",
    "m2": "m**2",
    "m3": "m**3",
    "m3/h": "m**3/hour",
    "m3/s": "m**3/second",
    "m3/d": "m**3/day",
    "ug/m3": "microgram/m**3",
    "mg/m3": "milligram/m**3",
    "W/m2": "W/m**2",
    "ft3/s": "ft**3/second",
    "var": "volt_ampere",
    "kvar": "kilovolt_ampere",
    "Mvar": "megavolt_ampere",
    "varh": "volt_ampere*hour",
    "kvarh": "kilovolt_ampere*hour",
}

# pint gives W, VA and var one dimension; these kinds keep real, apparent and reactive power apart.
_KIND: dict[str, str] = {
    "var": "reactive",
    "kvar": "reactive",
    "Mvar": "reactive",
    "varh": "reactive",
    "kvarh": "reactive",
    "VA": "apparent",
    "kVA": "apparent",
    "MVA": "apparent",
    "VAh": "apparent",
    "kVAh": "apparent",
}

# Units without a physical definition: each converts only to itself.
ARBITRARY: frozenset[str] = frozenset({"count", "NTU", "FNU", "pH", "EL", "%EL", "beats"})


class Affine(NamedTuple):
    """``target = source * scale / divisor + offset``.

    ``divisor`` is 1 except for exact decimal down-scaling (``mA`` -> ``A`` divides by 1000: a
    correctly rounded quotient, where multiplying by the inexact float 0.001 can be one ulp off).
    """

    scale: float
    offset: float
    divisor: float = 1.0

    def apply(self, value: float) -> float:
        """Convert one value."""
        if self.divisor != 1.0:
            return value / self.divisor + self.offset
        return value * self.scale + self.offset

    def invert(self, value: float) -> float:
        """Convert one value back (``scale`` is never zero)."""
        if self.divisor != 1.0:
            return (value - self.offset) * self.divisor
        return (value - self.offset) / self.scale


IDENTITY = Affine(1.0, 0.0)

# RFC 8798 §3, the SenML secondary units registry: symbol -> (primary SenML unit, exact scale);
# ``primary = secondary * scale`` (every offset there that concerns us is 0). Only the entries whose
# primary unit is one a catalogue metric is measured in, or a relative of one, are listed.
SECONDARY_UNITS: dict[str, tuple[str, Fraction]] = {
    "ms": ("s", Fraction(1, 1000)),
    "min": ("s", Fraction(60)),
    "h": ("s", Fraction(3600)),
    "MHz": ("Hz", Fraction(1_000_000)),
    "kW": ("W", Fraction(1000)),
    "kVA": ("VA", Fraction(1000)),
    "kvar": ("var", Fraction(1000)),
    "Ah": ("C", Fraction(3600)),
    "Wh": ("J", Fraction(3600)),
    "kWh": ("J", Fraction(3_600_000)),
    "varh": ("vars", Fraction(3600)),
    "kvarh": ("vars", Fraction(3_600_000)),
    "kVAh": ("VAs", Fraction(3_600_000)),
    "Wh/km": ("J/m", Fraction(36, 10)),
    "mV": ("V", Fraction(1, 1000)),
    "mA": ("A", Fraction(1, 1000)),
    "ug/m3": ("kg/m3", Fraction(1, 1_000_000_000)),
    "mm/h": ("m/s", Fraction(1, 3_600_000)),
    "m/h": ("m/s", Fraction(1, 3600)),
    "hPa": ("Pa", Fraction(100)),
    "mm": ("m", Fraction(1, 1000)),
    "cm": ("m", Fraction(1, 100)),
    "km": ("m", Fraction(1000)),
    "km/h": ("m/s", Fraction(5, 18)),
}


def _family(unit: str) -> tuple[str, Fraction]:
    """``unit``'s primary SenML unit and the exact factor from ``unit`` to it."""
    return SECONDARY_UNITS.get(unit, (unit, Fraction(1)))


def exact_affine(factor: Fraction) -> Affine:
    """The conversion multiplying by ``factor``: exact for integers, correctly rounded for 1/n."""
    if factor.denominator == 1:
        return Affine(float(factor.numerator), 0.0)
    if factor.numerator == 1:
        return Affine(1.0 / factor.denominator, 0.0, float(factor.denominator))
    return Affine(float(factor), 0.0)


def registered_relatives(target: str) -> dict[str, Affine]:
    """Units RFC 8428/8798 relate to ``target`` by an exact factor, with that conversion to ``target``.

    For a metric in ``A``: ``mA``. For one in ``kWh``: ``Wh`` and the primary ``J``. For one in
    ``kW``: the primary ``W``. The symbol ``target`` itself is not included.
    """
    primary, to_primary = _family(target)
    found: dict[str, Affine] = {}
    candidates = {*SECONDARY_UNITS, *(p for p, _ in SECONDARY_UNITS.values())}
    for unit in sorted(candidates - {target}):
        unit_primary, unit_to_primary = _family(unit)
        if unit_primary == primary and unit not in ARBITRARY:
            found[unit] = exact_affine(unit_to_primary / to_primary)
    return found


@cache
def _registry() -> Any:
    import pint  # noqa: PLC0415 - pint takes ~0.5 s to import and build; only contract loading needs it

    return pint.UnitRegistry()


def _quantity(value: float, unit: str, source: str) -> Any:
    registry = _registry()
    try:
        return registry.Quantity(value, _PINT_SPELLING.get(unit, unit))
    except Exception as exc:  # pint raises several unrelated types for a bad symbol
        raise UnitError(source, f"unknown unit {unit!r} ({exc})", unit=unit) from None


def check_unit(unit: str, source: str = "unit") -> None:
    """Raise :class:`UnitError` unless ``unit`` is a symbol this module understands."""
    if unit not in ARBITRARY:
        _quantity(1.0, unit, source)


@cache
def affine(unit: str, target: str, source: str = "unit") -> Affine:
    """The conversion from ``unit`` to ``target``, derived once from pint and cached.

    Raises :class:`UnitError` if either unit is unknown or they measure different things.
    """
    if unit == target:
        check_unit(unit, source)
        return IDENTITY
    if unit in ARBITRARY or target in ARBITRARY or _KIND.get(unit) != _KIND.get(target):
        raise UnitError(source, f"{unit!r} does not convert to {target!r}", unit=unit, target=target)
    try:
        zero = _quantity(0.0, unit, source).to(_PINT_SPELLING.get(target, target)).magnitude
        one = _quantity(1.0, unit, source).to(_PINT_SPELLING.get(target, target)).magnitude
        probe = _quantity(1000.0, unit, source).to(_PINT_SPELLING.get(target, target)).magnitude
    except UnitError:
        raise
    except Exception as exc:  # pint's DimensionalityError and friends
        raise UnitError(
            source, f"{unit!r} does not convert to {target!r} ({exc})", unit=unit, target=target
        ) from None
    # The slope over a wide span loses less to rounding than one - zero (degF: 5/9 to the last digit).
    result = Affine(float(probe - zero) / 1000.0, float(zero))
    if result.scale == 0 or not math.isclose(result.apply(1.0), float(one), rel_tol=1e-9, abs_tol=1e-9):
        raise UnitError(
            source, f"{unit!r} -> {target!r} is not an affine conversion", unit=unit, target=target
        )
    return result
