"""The canonical metric catalogue: what a stored reading means.

Owns :class:`Metric` and :func:`load_catalogue`, which reads the packaged ``metrics.yaml``. The
catalogue is data: adding a metric means editing that file (and CHANGELOG.md), not this module.
Loading is lazy and cached, so importing the package reads no file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import yaml

from firmware_contracts.errors import ContractError
from firmware_contracts.vocabulary import SECTOR_CODE

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_FIWARE_KEYS = frozenset({"entity", "attribute", "scale"})


@dataclass(frozen=True, slots=True)
class FiwareMapping:
    """The FIWARE Smart Data Model attribute a metric corresponds to.

    ``attribute`` may be a dotted path into a structured attribute (``phaseVoltage.l1``); the
    attribute's value is the canonical value times ``scale``.
    """

    entity: str
    attribute: str
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Metric:
    """One canonical metric: its name, canonical unit (SenML/UCUM symbol) and plausible range."""

    name: str
    unit: str
    sector: str
    min: float
    max: float
    description: str
    fiware: FiwareMapping | None = None


def _metric(name: str, raw: Any, source: str) -> Metric:
    if not _NAME.fullmatch(name):
        raise ContractError(source, f"metric name {name!r} is not snake_case ASCII")
    if not isinstance(raw, dict):
        raise ContractError(source, f"metric {name!r} must be a mapping")
    allowed = {"sector", "unit", "min", "max", "description", "fiware"}
    if extra := set(raw) - allowed:
        raise ContractError(source, f"metric {name!r} has unknown keys {sorted(extra)}")
    try:
        low, high = float(raw["min"]), float(raw["max"])
        sector, unit, description = str(raw["sector"]), str(raw["unit"]), str(raw["description"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(source, f"metric {name!r}: missing or invalid {exc}") from None
    # Sectors are data (the registry's ``sectors`` rows): a contract names one by its code, and the
    # registry refuses to load a contract whose sector it does not know.
    if not re.fullmatch(SECTOR_CODE, sector):
        raise ContractError(source, f"metric {name!r}: sector {sector!r} is not a sector code")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ContractError(source, f"metric {name!r}: range [{low}, {high}] is empty or not finite")
    fiware = None
    if (mapping := raw.get("fiware")) is not None:
        if not isinstance(mapping, dict) or not {"entity", "attribute"} <= set(mapping) <= _FIWARE_KEYS:
            raise ContractError(source, f"metric {name!r}: fiware needs entity, attribute[, scale]")
        fiware = FiwareMapping(
            entity=str(mapping["entity"]),
            attribute=str(mapping["attribute"]),
            scale=float(mapping.get("scale", 1.0)),
        )
    return Metric(name, unit, sector, low, high, description, fiware)


def parse_catalogue(text: str, source: str = "metrics.yaml") -> Mapping[str, Metric]:
    """Parse a catalogue document (a mapping of metric name to definition)."""
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ContractError(source, "the catalogue must be a mapping of metric names")
    return MappingProxyType({str(name): _metric(str(name), body, source) for name, body in raw.items()})


@cache
def load_catalogue() -> Mapping[str, Metric]:
    """The packaged catalogue, metric name -> :class:`Metric` (read once, then cached)."""
    text = resources.files("firmware_contracts").joinpath("metrics.yaml").read_text(encoding="utf-8")
    return parse_catalogue(text)


def sectors() -> frozenset[str]:
    """The sectors the catalogue's metrics belong to (a device model must be of one of them)."""
    return frozenset(metric.sector for metric in load_catalogue().values())
