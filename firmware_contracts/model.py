"""Device models: the versioned wire contract of one kind of device, loaded from YAML.

Owns :class:`DeviceModel` (and its parts), :func:`load_model_file` and :func:`load_models`, which
reads every ``models/*.yaml`` shipped in the package. A model file is data written by people, so
loading validates it thoroughly and raises :class:`~firmware_contracts.ContractError` with the file
and the fault. The file format is documented in ``docs/contracts.md``.
"""

from __future__ import annotations

import base64
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import cbor2
import orjson
import yaml

from firmware_contracts.catalogue import load_catalogue, sectors
from firmware_contracts.errors import ContractError
from firmware_contracts.units import affine

FieldType = Literal["number", "integer", "boolean"]
TimeFormat = Literal["epoch_s", "epoch_ms", "rfc3339"]
SenMLValue = Literal["v", "vb", "s"]
PayloadFormat = Literal["native", "senml+json", "senml+cbor"]

FIELD_TYPES: tuple[FieldType, ...] = ("number", "integer", "boolean")
TIME_FORMATS: tuple[TimeFormat, ...] = ("epoch_s", "epoch_ms", "rfc3339")
PAYLOAD_FORMATS: tuple[PayloadFormat, ...] = ("native", "senml+json", "senml+cbor")

_ID = re.compile(r"[a-z0-9][a-z0-9-]*[a-z0-9]")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# RFC 8428 §4.5.1 name characters, without ':' and '/' which separate the device prefix (docs/contracts.md).
_SENML_SUFFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Text labels of RFC 8428 §6 integer labels, for writing CBOR examples.
CBOR_LABELS: dict[str, int] = {
    "bver": -1, "bn": -2, "bt": -3, "bu": -4, "bv": -5, "bs": -6,
    "n": 0, "u": 1, "v": 2, "vs": 3, "vb": 4, "s": 5, "t": 6, "ut": 7, "vd": 8,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """Where a native payload carries its timestamp, and how."""

    field: str
    format: TimeFormat
    required: bool


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One measured quantity of a device: its native key, canonical metric and firmware unit.

    ``range`` (firmware units, optional) narrows the metric's plausible range to the sensor's.
    In SenML the field is named ``senml_name`` (after the device prefix), carried in ``senml_value``
    (``v``, ``vb`` or the sum ``s``) and may use ``unit``, any of ``senml_units`` or the metric's
    canonical unit.
    """

    key: str
    metric: str
    type: FieldType
    unit: str
    required: bool
    range: tuple[float, float] | None
    senml_name: str
    senml_value: SenMLValue
    senml_units: tuple[str, ...]
    description: str


@dataclass(frozen=True, slots=True)
class Example:
    """A payload exactly as the device sends it, and the readings it must normalise to."""

    name: str
    format: PayloadFormat
    received_at: float
    payload: bytes
    readings: tuple[tuple[float, str, float], ...]


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """The contract of one device model at one version (immutable once published)."""

    id: str
    version: int
    sector: str
    manufacturer: str
    description: str
    reporting_interval_s: float
    formats: tuple[PayloadFormat, ...]
    time: TimeSpec | None
    fields: tuple[FieldSpec, ...]
    metadata: tuple[str, ...]
    examples: tuple[Example, ...]

    @property
    def key(self) -> tuple[str, int]:
        """``(id, version)``, the model's identity."""
        return (self.id, self.version)

    def field_for_metric(self, metric: str) -> FieldSpec:
        """The field that carries ``metric`` (KeyError if the model does not measure it)."""
        for spec in self.fields:
            if spec.metric == metric:
                return spec
        raise KeyError(metric)


class _Reader:
    """Typed access to one mapping of a YAML document, with errors naming the file and path."""

    def __init__(self, raw: Any, source: str, where: str) -> None:
        if not isinstance(raw, dict):
            raise ContractError(source, f"{where} must be a mapping")
        self.raw, self.source, self.where = raw, source, where

    def fail(self, detail: str) -> ContractError:
        return ContractError(self.source, f"{self.where}: {detail}")

    def only(self, *keys: str) -> None:
        if extra := set(self.raw) - set(keys):
            raise self.fail(f"unknown keys {sorted(map(str, extra))}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        if key not in self.raw:
            if default is ...:
                raise self.fail(f"missing {key!r}")
            return default
        value = self.raw[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(f"{key!r} must be {kind}, not a boolean")
        if not isinstance(value, kind):
            raise self.fail(f"{key!r} must be {kind}, got {type(value).__name__}")
        return value


def _field(raw: Any, source: str, index: int) -> FieldSpec:
    r = _Reader(raw, source, f"fields[{index}]")
    r.only("key", "metric", "type", "unit", "required", "range", "senml", "description")
    key = r.get("key", str)
    if not _KEY.fullmatch(key):
        raise r.fail(f"key {key!r} is not a plain identifier")
    metric_name = r.get("metric", str)
    metric = load_catalogue().get(metric_name)
    if metric is None:
        raise r.fail(f"metric {metric_name!r} is not in the catalogue")
    kind = r.get("type", str, "number")
    if kind not in FIELD_TYPES:
        raise r.fail(f"type {kind!r} is not one of {FIELD_TYPES}")
    unit = r.get("unit", str, metric.unit)
    if kind == "boolean" and not (unit == metric.unit and metric.min <= 0 and metric.max >= 1):
        raise r.fail("a boolean field maps true/false to 1/0 of a metric whose range holds both")
    affine(unit, metric.unit, f"{source}: {key}")
    span = r.get("range", list, None)
    if span is not None:
        if len(span) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in span):
            raise r.fail("range must be [min, max]")
        if not (math.isfinite(span[0]) and math.isfinite(span[1]) and span[0] < span[1]):
            raise r.fail("range must be finite and min < max")
    senml = _Reader(r.get("senml", dict, {}), source, f"fields[{index}].senml")
    senml.only("name", "value", "units")
    senml_name = senml.get("name", str, key)
    if not _SENML_SUFFIX.fullmatch(senml_name):
        raise senml.fail(f"name {senml_name!r} must match [A-Za-z0-9][A-Za-z0-9._-]*")
    senml_value = senml.get("value", str, "vb" if kind == "boolean" else "v")
    if senml_value not in ("v", "vb", "s") or (senml_value == "vb") != (kind == "boolean"):
        raise senml.fail("value is vb for boolean fields and v or s for numeric ones")
    senml_units = tuple(senml.get("units", list, []))
    for extra in senml_units:
        if not isinstance(extra, str):
            raise senml.fail("units must be unit symbols")
        affine(extra, metric.unit, f"{source}: {key}")
    return FieldSpec(
        key=key,
        metric=metric_name,
        type=kind,
        unit=unit,
        required=r.get("required", bool, True),
        range=(float(span[0]), float(span[1])) if span is not None else None,
        senml_name=senml_name,
        senml_value=senml_value,
        senml_units=senml_units,
        description=r.get("description", str, metric.description),
    )


def _to_cbor_labels(pack: Any) -> Any:
    if not isinstance(pack, list):
        return pack
    out = []
    for record in pack:
        if isinstance(record, dict):
            converted = {CBOR_LABELS.get(k, k): v for k, v in record.items()}
            if isinstance(vd := converted.get(CBOR_LABELS["vd"]), str):  # base64url in JSON, bytes in CBOR
                converted[CBOR_LABELS["vd"]] = base64.urlsafe_b64decode(vd + "=" * (-len(vd) % 4))
            out.append(converted)
        else:
            out.append(record)
    return out


def _example(raw: Any, source: str, index: int, formats: tuple[str, ...]) -> Example:
    r = _Reader(raw, source, f"examples[{index}]")
    r.only("name", "format", "received_at", "payload", "readings")
    fmt = r.get("format", str)
    if fmt not in formats:
        raise r.fail(f"format {fmt!r} is not one the model accepts {formats}")
    body = r.get("payload", (dict, list))
    payload = cbor2.dumps(_to_cbor_labels(body)) if fmt == "senml+cbor" else orjson.dumps(body)
    readings = []
    for row in r.get("readings", list):
        if not (isinstance(row, list) and len(row) == 3 and isinstance(row[1], str)):
            raise r.fail("readings are [time, metric, value] rows")
        readings.append((float(row[0]), row[1], float(row[2])))
    return Example(
        name=r.get("name", str),
        format=fmt,  # checked against PAYLOAD_FORMATS through formats
        received_at=float(r.get("received_at", (int, float))),
        payload=payload,
        readings=tuple(readings),
    )


def parse_model(text: str, source: str) -> DeviceModel:
    """Parse and validate one device model document."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(source, f"not YAML: {exc}") from None
    r = _Reader(raw, source, "model")
    r.only(
        "id", "version", "sector", "manufacturer", "description", "reporting_interval_s",
        "formats", "time", "fields", "metadata", "examples",
    )  # fmt: skip
    model_id = r.get("id", str)
    if not _ID.fullmatch(model_id):
        raise r.fail(f"id {model_id!r} must be lowercase letters, digits and dashes")
    version = r.get("version", int)
    if version < 1:
        raise r.fail("version starts at 1")
    sector = r.get("sector", str)
    if sector not in (known := sectors()):
        raise r.fail(f"sector {sector!r} is not one of the catalogue's {sorted(known)}")
    formats = tuple(r.get("formats", list))
    if not formats or any(f not in PAYLOAD_FORMATS for f in formats) or len(set(formats)) != len(formats):
        raise r.fail(f"formats must be distinct values of {PAYLOAD_FORMATS}")
    time = None
    if (raw_time := r.get("time", dict, None)) is not None:
        t = _Reader(raw_time, source, "time")
        t.only("field", "format", "required")
        time_format = t.get("format", str, "epoch_s")
        if time_format not in TIME_FORMATS:
            raise t.fail(f"format {time_format!r} is not one of {TIME_FORMATS}")
        time = TimeSpec(field=t.get("field", str), format=time_format, required=t.get("required", bool, True))
    fields = tuple(_field(raw_field, source, i) for i, raw_field in enumerate(r.get("fields", list)))
    if not fields:
        raise r.fail("a model measures at least one field")
    metadata = tuple(str(m) for m in r.get("metadata", list, []))
    keys = [f.key for f in fields] + list(metadata) + ([time.field] if time else [])
    for what, values in (
        ("native keys", keys),
        ("metrics", [f.metric for f in fields]),
        ("SenML names", [f.senml_name for f in fields]),
    ):
        if len(set(values)) != len(values):
            raise r.fail(f"{what} must be unique, got {values}")
    interval = r.get("reporting_interval_s", (int, float))
    if not (math.isfinite(interval) and interval > 0):
        raise r.fail("reporting_interval_s must be positive")
    examples = tuple(_example(e, source, i, formats) for i, e in enumerate(r.get("examples", list)))
    return DeviceModel(
        id=model_id,
        version=version,
        sector=sector,
        manufacturer=r.get("manufacturer", str),
        description=r.get("description", str),
        reporting_interval_s=float(interval),
        formats=formats,
        time=time,
        fields=fields,
        metadata=metadata,
        examples=examples,
    )


def load_model_file(path: str | Path) -> DeviceModel:
    """Load and validate one device model file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(str(path), f"cannot read: {exc}") from None
    return parse_model(text, str(path))


def load_models() -> dict[tuple[str, int], DeviceModel]:
    """Every device model shipped in the package, keyed by ``(id, version)``.

    A file is named ``<id>.v<version>.yaml``; the name must agree with its content.
    """
    models: dict[tuple[str, int], DeviceModel] = {}
    folder = resources.files("firmware_contracts").joinpath("models")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".yaml"):
            continue
        model = parse_model(entry.read_text(encoding="utf-8"), f"models/{entry.name}")
        if entry.name != f"{model.id}.v{model.version}.yaml":
            raise ContractError(entry.name, f"must be named {model.id}.v{model.version}.yaml")
        models[model.key] = model
    return models
