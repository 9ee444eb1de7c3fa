"""The wire contract of hatang's devices and the pure normaliser (no I/O).

Device models (``models/*.yaml``) say what each kind of device sends; the metric catalogue
(``metrics.yaml``) says what the platform stores. :func:`normalise` turns one payload into canonical
readings and rejections, never raising. ``vocabulary`` (sectors, reason codes, the shapes of codes
and ids) is public: every package spells those through it. Everything else in the package is private.
"""

from __future__ import annotations

from firmware_contracts import vocabulary
from firmware_contracts.catalogue import FiwareMapping, Metric, load_catalogue, sectors
from firmware_contracts.compiled import CompiledField, CompiledModel, Limits, compile_model
from firmware_contracts.encode import encode_native, encode_senml
from firmware_contracts.errors import ContractError, UnitError
from firmware_contracts.model import DeviceModel, Example, FieldSpec, TimeSpec, load_model_file, load_models
from firmware_contracts.normalise import normalise
from firmware_contracts.outcome import Normalised, Reading, Rejection
from firmware_contracts.schema import json_schema
from firmware_contracts.vocabulary import DEAD_LETTER_REASONS, REJECTION_REASONS, Sector

__all__ = [
    "DEAD_LETTER_REASONS",
    "REJECTION_REASONS",
    "CompiledField",
    "CompiledModel",
    "ContractError",
    "DeviceModel",
    "Example",
    "FieldSpec",
    "FiwareMapping",
    "Limits",
    "Metric",
    "Normalised",
    "Reading",
    "Rejection",
    "Sector",
    "TimeSpec",
    "UnitError",
    "compile_model",
    "encode_native",
    "encode_senml",
    "json_schema",
    "load_catalogue",
    "load_model_file",
    "load_models",
    "normalise",
    "sectors",
    "vocabulary",
]
