"""Encoders: canonical readings to the bytes a device of a model would send.

Owns :func:`encode_native` and :func:`encode_senml`, the canonical way for simulators and tests to
build payloads. They apply each field's conversion in reverse, so what they encode normalises back
to the values given (up to float rounding, and integer fields rounding to whole firmware units).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
import orjson

from firmware_contracts.compiled import CompiledField, CompiledModel, compiled_default
from firmware_contracts.model import CBOR_LABELS, DeviceModel


def _compiled(model: DeviceModel | CompiledModel) -> CompiledModel:
    return model if isinstance(model, CompiledModel) else compiled_default(model)


def _field(compiled: CompiledModel, metric: str) -> CompiledField:
    for field in compiled.fields:
        if field.metric == metric:
            return field
    raise ValueError(f"{compiled.model.id} v{compiled.model.version} does not measure {metric!r}")


def firmware_value(field: CompiledField, value: float) -> float | int | bool:
    """A canonical value in the field's firmware unit and JSON type."""
    raw = field.native.invert(value)
    if field.spec.type == "boolean":
        return raw >= 0.5
    if field.spec.type == "integer":
        return round(raw)
    return raw


def _time(compiled: CompiledModel, time: float) -> Any:
    spec = compiled.model.time
    assert spec is not None
    if spec.format == "epoch_ms":
        return round(time * 1000)
    if spec.format == "rfc3339":
        return datetime.fromtimestamp(time, UTC).isoformat().replace("+00:00", "Z")
    return int(time) if float(time).is_integer() else time


def encode_native(model: DeviceModel | CompiledModel, time: float, values: Mapping[str, float]) -> bytes:
    """A native JSON payload carrying ``values`` (metric name -> canonical value) measured at ``time``.

    Raises ValueError for a metric the model does not measure.
    """
    compiled = _compiled(model)
    body: dict[str, Any] = {}
    if compiled.model.time is not None:
        body[compiled.model.time.field] = _time(compiled, time)
    for metric, value in values.items():
        field = _field(compiled, metric)
        body[field.spec.key] = firmware_value(field, value)
    return orjson.dumps(body)


def encode_senml(
    model: DeviceModel | CompiledModel,
    readings: Iterable[tuple[float, str, float]],
    *,
    base_name: str = "",
    cbor: bool = False,
) -> bytes:
    """A SenML pack (JSON, or CBOR with ``cbor=True``) of ``(time, metric, canonical value)`` readings.

    The first record carries ``bn`` (if given) and ``bt``; later records carry times relative to it.
    Units and value kinds (``v``, ``vb``, ``s``) are the contract's. Raises ValueError for a metric
    the model does not measure.
    """
    compiled = _compiled(model)
    records: list[dict[str, Any]] = []
    base_time: float | None = None
    for time, metric, value in readings:
        field = _field(compiled, metric)
        record: dict[str, Any] = {}
        if base_time is None:
            base_time = time
            if base_name:
                record["bn"] = base_name
            record["bt"] = time
        record["n"] = field.spec.senml_name
        if field.spec.type != "boolean":
            record["u"] = field.spec.unit
        record[field.spec.senml_value] = firmware_value(field, value)
        if time != base_time:
            record["t"] = time - base_time
        records.append(record)
    if cbor:
        return cbor2.dumps([{CBOR_LABELS[k]: v for k, v in r.items()} for r in records])
    return orjson.dumps(records)
