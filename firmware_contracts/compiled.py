"""A device model compiled for the hot path: conversions, ranges and decoders derived once.

Owns :class:`Limits`, :class:`CompiledField`, :class:`CompiledModel` and :func:`compile_model`.
Everything the normaliser would otherwise re-derive per message (pint conversions to affine pairs,
ranges in canonical units, the msgspec decoder of the native payload) is computed here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, Protocol

import msgspec

from firmware_contracts.catalogue import load_catalogue
from firmware_contracts.fastpath import Entry, build_entry, entry_source
from firmware_contracts.model import DeviceModel, FieldSpec, FieldType
from firmware_contracts.native import TZ_DATETIME
from firmware_contracts.normalise import general
from firmware_contracts.units import Affine, affine

_NATIVE_TYPES: dict[FieldType, type] = {"number": float, "integer": int, "boolean": bool}


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied to every message (from ``hatang.settings.ContractsSettings``)."""

    max_age_s: float = 7 * 24 * 3600.0
    max_future_s: float = 300.0
    max_payload_bytes: int = 65536

    @classmethod
    def of(cls, config: LimitsConfig) -> Limits:
        """The limits that ``config`` (``hatang.settings.ContractsSettings``, or alike) sets."""
        return cls(
            max_age_s=config.max_age_s,
            max_future_s=config.max_future_s,
            max_payload_bytes=config.max_payload_bytes,
        )


class LimitsConfig(Protocol):
    """What :meth:`Limits.of` reads; the settings class matches it without importing this package."""

    @property
    def max_age_s(self) -> float: ...
    @property
    def max_future_s(self) -> float: ...
    @property
    def max_payload_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class CompiledField:
    """One field ready for the hot path; ``low``/``high`` are canonical and inclusive."""

    spec: FieldSpec
    metric: str
    native: Affine
    low: float
    high: float
    senml_units: Mapping[str | None, Affine]  # None: the record has no unit, so the contract's is meant


@dataclass(frozen=True, slots=True, eq=False)
class CompiledModel:
    """A :class:`DeviceModel` with its :class:`Limits`, compiled once (see :func:`compile_model`)."""

    model: DeviceModel
    limits: Limits
    fields: tuple[CompiledField, ...]
    by_key: Mapping[str, CompiledField]
    by_senml_name: Mapping[str, CompiledField]
    native: bool
    senml_json: bool
    senml_cbor: bool
    native_decoder: msgspec.json.Decoder[Any] | None
    entry_source: str  # the generated entry point (fastpath.py), kept for reading
    entry: Entry


def canonical_range(spec: FieldSpec, native: Affine) -> tuple[float, float]:
    """The field's documented range in canonical units: the metric's, narrowed by the sensor's."""
    metric = load_catalogue()[spec.metric]
    low, high = metric.min, metric.max
    if spec.range is not None:
        ends = sorted((native.apply(spec.range[0]), native.apply(spec.range[1])))
        low, high = max(low, ends[0]), min(high, ends[1])
    return low, high


def _with_slack(low: float, high: float) -> tuple[float, float]:
    # Inclusive, with room for one rounding of the conversion: a device sending exactly its documented
    # maximum must not be rejected because raw * scale + offset lands one ulp above it.
    slack = max(abs(low), abs(high)) * 1e-12
    return low - slack, high + slack


def _compile_field(spec: FieldSpec, source: str) -> CompiledField:
    target = load_catalogue()[spec.metric].unit
    native = affine(spec.unit, target, source)
    units: dict[str | None, Affine] = {
        None: native,
        spec.unit: native,
        target: affine(target, target, source),
    }
    for extra in spec.senml_units:
        units[extra] = affine(extra, target, source)
    low, high = _with_slack(*canonical_range(spec, native))
    return CompiledField(spec, spec.metric, native, low, high, MappingProxyType(units))


def native_struct(model: DeviceModel) -> type[msgspec.Struct]:
    """The msgspec struct of the model's native payload: time, then fields, then metadata.

    Attribute names are positional (``t``, ``f0``...) and renamed to the payload's keys, so any key
    works; unknown keys are forbidden, which sends such payloads down the detailed path.
    """
    members: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}

    def add(name: str, key: str, kind: Any, required: bool) -> None:
        # Required members get no default: msgspec then rejects payloads that lack them.
        members.append((name, kind) if required else (name, kind | msgspec.UnsetType, msgspec.UNSET))
        rename[name] = key

    if model.time is not None:
        add(
            "t",
            model.time.field,
            TZ_DATETIME if model.time.format == "rfc3339" else float,
            model.time.required,
        )
    for i, spec in enumerate(model.fields):
        add(f"f{i}", spec.key, _NATIVE_TYPES[spec.type], spec.required)
    for i, key in enumerate(model.metadata):
        add(f"m{i}", key, Any, False)
    return msgspec.defstruct(
        f"Native_{model.id.replace('-', '_')}_v{model.version}",
        members,
        rename=rename,
        kw_only=True,
        forbid_unknown_fields=True,
    )


def compile_model(model: DeviceModel, limits: Limits | None = None) -> CompiledModel:
    """Compile ``model`` for :func:`~firmware_contracts.normalise` under ``limits`` (default Limits())."""
    limits = limits or Limits()
    fields = tuple(_compile_field(spec, f"{model.id} v{model.version}") for spec in model.fields)
    native = "native" in model.formats
    decoder = msgspec.json.Decoder(native_struct(model)) if native else None
    plan = tuple((f.metric, f.native.scale, f.native.offset, f.low, f.high) for f in fields)
    source = entry_source(
        model,
        plan,
        native=native,
        max_age_s=limits.max_age_s,
        max_future_s=limits.max_future_s,
        max_payload_bytes=limits.max_payload_bytes,
    )
    entry, namespace = build_entry(source, decoder, general)
    compiled = CompiledModel(
        model=model,
        limits=limits,
        fields=fields,
        by_key=MappingProxyType({f.spec.key: f for f in fields}),
        by_senml_name=MappingProxyType({f.spec.senml_name: f for f in fields}),
        native=native,
        senml_json="senml+json" in model.formats,
        senml_cbor="senml+cbor" in model.formats,
        native_decoder=decoder,
        entry_source=source,
        entry=entry,
    )
    namespace["model"] = compiled  # the entry hands what it does not accept to general(..., model)
    return compiled


@cache
def compiled_default(model: DeviceModel) -> CompiledModel:
    """``compile_model(model)`` with default limits, cached (for the encoders and the checker)."""
    return compile_model(model)
