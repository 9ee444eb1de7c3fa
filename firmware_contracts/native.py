"""Native payloads: one flat JSON object per message, keys and units as the device model declares.

Owns the two ways a decoded native payload becomes readings: :func:`fast_native` for a payload the
model's msgspec struct accepted (every key known, every type right), which gives up (``None``) at
the first problem, and :func:`normalise_native`, the detailed path that reports every problem.
Both give the same result for every payload the fast path accepts (a property test checks it).

One native message carries one time, so a time problem rejects the whole message. Each field
problem (wrong type, out of range, unknown key, required key missing) rejects that field only.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec
from msgspec import UNSET

from firmware_contracts.compiled import TZ_DATETIME, CompiledModel
from firmware_contracts.outcome import Normalised, Reading, Rejection

_TO_SECONDS = {"epoch_s": 1.0, "epoch_ms": 0.001}


def fast_native(obj: msgspec.Struct, received_at: float, model: CompiledModel) -> Normalised | None:
    """Readings of a payload that decoded into the model's struct, or ``None`` if anything is off."""
    values = msgspec.structs.astuple(obj)
    spec = model.model.time
    if spec is None:
        t = received_at
        start = 0
    else:
        raw_t = values[0]
        start = 1
        if raw_t is UNSET:
            t = received_at
        elif spec.format == "rfc3339":
            t = raw_t.timestamp()
        else:
            t = raw_t * _TO_SECONDS[spec.format]
        limits = model.limits
        if not received_at - limits.max_age_s <= t <= received_at + limits.max_future_s:
            return None
    readings: list[Reading] = []
    for (metric, scale, offset, low, high), raw in zip(model.native_plan, values[start:], strict=False):
        if raw is UNSET:
            continue
        value = raw * scale + offset
        if not low <= value <= high:
            return None
        readings.append(Reading(t, metric, value))
    if not readings:
        return None
    return Normalised(readings, [])


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
            t = math.copysign(math.inf, raw)
    else:
        return Rejection("schema", f"time {spec.field!r} must be a number ({spec.format})", None, spec.field)
    limits = model.limits
    if received_at - limits.max_age_s <= t <= received_at + limits.max_future_s:
        return t
    if math.isnan(t):
        return Rejection("schema", "time is not a number", None, spec.field)
    if t > received_at:
        return Rejection("time_in_future", f"time {t:.3f} is {t - received_at:.0f} s after receipt", None, spec.field)
    return Rejection("too_old", f"time {t:.3f} is {received_at - t:.0f} s before receipt", None, spec.field)


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
                Rejection("out_of_range", f"{key} = {value} {field.metric} outside [{field.low}, {field.high}]", None, key)
            )
            continue
        readings.append(Reading(t, field.metric, value))
    known = model.by_key.keys() | set(model.model.metadata)
    if model.model.time is not None:
        known.add(model.model.time.field)
    for key in obj:
        if key not in known:
            rejections.append(Rejection("unknown_field", f"{key!r} is not a field of this model", None, str(key)))
    if not readings and not rejections:
        rejections.append(Rejection("schema", "the payload carries no measured field"))
    return Normalised(readings, rejections)

