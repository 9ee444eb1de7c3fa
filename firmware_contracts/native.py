"""Native payloads: one flat JSON object per message, keys and units as the device model declares.

Owns :func:`normalise_native`, the detailed path of a decoded native payload, which reports every
problem. The generated fast path (``fastpath.py``) handles payloads that are entirely fine; both give
the same result for every payload the fast path accepts (a property test checks it).

One native message carries one time, so a time problem rejects the whole message. Each field
problem (wrong type, out of range, unknown key, required key missing) rejects that field only.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from firmware_contracts.outcome import Normalised, Reading, Rejection
from firmware_contracts.senml import time_rejection

if TYPE_CHECKING:
    from firmware_contracts.compiled import CompiledModel

# An RFC 3339 timestamp with an offset; the generated fast path and this module parse it alike.
TZ_DATETIME = Annotated[datetime, msgspec.Meta(tz=True)]

_TO_SECONDS = {"epoch_s": 1.0, "epoch_ms": 0.001}


def _time(obj: dict[str, Any], received_at: float, model: CompiledModel) -> float | Rejection:
    spec = model.model.time
    if spec is None:
        return received_at
    if spec.field not in obj:
        if spec.required:
            return Rejection("schema", f"time field {spec.field!r} is missing", None, spec.field)
        return received_at
    raw = obj[spec.field]
    if spec.format == "rfc3339":
        try:
            t = msgspec.convert(raw, TZ_DATETIME).timestamp()
        except (msgspec.ValidationError, TypeError, ValueError, OverflowError) as exc:
            return Rejection("schema", f"time {spec.field!r}: {exc} (RFC 3339 with offset)", None, spec.field)
    elif type(raw) in (int, float):
        try:
            t = float(raw) * _TO_SECONDS[spec.format]
        except OverflowError:
            t = math.inf if raw > 0 else -math.inf
    else:
        return Rejection("schema", f"time {spec.field!r} must be a number ({spec.format})", None, spec.field)
    limits = model.limits
    if received_at - limits.max_age_s <= t <= received_at + limits.max_future_s:
        return t
    return time_rejection(t, received_at, None, spec.field)


def _number(raw: Any, kind: str) -> float | int | None:
    """``raw`` if it is a JSON value of the field's type (booleans are not numbers), else None."""
    if kind == "boolean":
        return raw if type(raw) is bool else None
    if kind == "integer":
        return raw if type(raw) is int else None
    return raw if type(raw) in (int, float) else None


def normalise_native(obj: dict[str, Any], received_at: float, model: CompiledModel) -> Normalised:
    """Readings and rejections of a decoded native payload (the detailed path)."""
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    t = _time(obj, received_at, model)
    if type(t) is Rejection:
        return Normalised(readings, [t])
    assert type(t) is float
    for field in model.fields:
        key = field.spec.key
        if key not in obj:
            if field.spec.required:
                rejections.append(Rejection("schema", f"required field {key!r} is missing", None, key))
            continue
        raw = _number(obj[key], field.spec.type)
        if raw is None:
            got = type(obj[key]).__name__
            rejections.append(Rejection("schema", f"{key!r} must be {field.spec.type}, got {got}", None, key))
            continue
        try:
            value = raw * field.native.scale + field.native.offset
        except OverflowError:  # an integer beyond float range
            value = math.inf
        if not field.low <= value <= field.high:
            rejections.append(
                Rejection(
                    "out_of_range",
                    f"{key} = {value} {field.metric} outside [{field.low}, {field.high}]",
                    None,
                    key,
                )
            )
            continue
        readings.append(Reading(t, field.metric, value))
    known = model.by_key.keys() | set(model.model.metadata)
    if model.model.time is not None:
        known.add(model.model.time.field)
    for key in obj:
        if key not in known:
            rejections.append(
                Rejection("unknown_field", f"{key!r} is not a field of this model", None, str(key))
            )
    if not readings and not rejections:
        rejections.append(Rejection("schema", "the payload carries no measured field"))
    return Normalised(readings, rejections)
