"""Unit symbols and the affine conversions between them.

Owns the mapping from SenML/UCUM unit symbols to pint, and :func:`affine`, which derives the
``(scale, offset)`` pair turning a value in one unit into another (``canonical = raw * scale +
offset``). pint does the physics; this module only spells the symbols pint does not parse the
SenML way (``Cel``, ``m3/h``, ``kvar``, ``/h`` ...). Everything here runs when a contract is
compiled, never per message: pint's registry is built lazily on first use and then cached.
"""

from __future__ import annotations

import math
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
    """``target = source * scale + offset``."""

    scale: float
    offset: float

    def apply(self, value: float) -> float:
        """Convert one value."""
        return value * self.scale + self.offset

    def invert(self, value: float) -> float:
        """Convert one value back (``scale`` is never zero)."""
        return (value - self.offset) / self.scale


IDENTITY = Affine(1.0, 0.0)


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
