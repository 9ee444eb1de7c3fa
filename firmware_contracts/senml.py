"""SenML (RFC 8428) packs: records, base-field resolution, and mapping records to readings.

Owns :class:`Record` (one SenML record, JSON labels), the typed JSON pack decoder, the checking of
loosely decoded records (JSON objects or CBOR maps with integer labels) and
:func:`normalise_pack`, the single implementation of base-field resolution used for every pack.

Resolution (RFC 8428 §4): base fields (bn, bt, bu, bv, bs, bver) apply to their record and every
later one until replaced; name = bn + n; time = bt + t, and a resolved time below 2**28 is relative
to the receive time; value = bv + v, sum = bs + s; a missing unit means the contract's unit. The
field is the part of the name after the last ':' or '/' (the rest identifies the device).
"""

from __future__ import annotations

import base64
import math
import re
from typing import TYPE_CHECKING, Any

import msgspec
from msgspec import UNSET, UnsetType

from firmware_contracts.outcome import Normalised, Reading, Rejection

if TYPE_CHECKING:
    from firmware_contracts.compiled import CompiledField, CompiledModel
    from firmware_contracts.units import Affine

RELATIVE_TIME_LIMIT = 2**28  # RFC 8428 §4.5.3: resolved times below this are relative to "now"
SUPPORTED_VERSION = 10  # RFC 8428 §4.4: the Base Version this implementation understands
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")  # RFC 8428 §4.5.1


class Record(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """One SenML record with its RFC 8428 JSON labels; absent fields are ``UNSET``."""

    bn: str | UnsetType = UNSET
    bt: float | UnsetType = UNSET
    bu: str | UnsetType = UNSET
    bv: float | UnsetType = UNSET
    bs: float | UnsetType = UNSET
    bver: int | UnsetType = UNSET
    n: str | UnsetType = UNSET
    u: str | UnsetType = UNSET
    v: float | UnsetType = UNSET
    vs: str | UnsetType = UNSET
    vb: bool | UnsetType = UNSET
    vd: str | UnsetType = UNSET
    s: float | UnsetType = UNSET
    t: float | UnsetType = UNSET
    ut: float | UnsetType = UNSET


PACK_DECODER = msgspec.json.Decoder(list[Record])

BASE_LABELS = frozenset({"bn", "bt", "bu", "bv", "bs", "bver"})
# RFC 8428 §6: CBOR integer labels.
CBOR_LABELS: dict[int, str] = {
    -1: "bver", -2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs",
    0: "n", 1: "u", 2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd",
}  # fmt: skip
_STRINGS = frozenset({"bn", "bu", "n", "u", "vs", "vd"})
_NUMBERS = frozenset({"bt", "bv", "bs", "v", "s", "t", "ut"})


class BadRecord(msgspec.Struct, frozen=True):
    """A pack element that is not a valid record; ``poisons`` if it tried to set base fields."""

    rejection: Rejection
    poisons: bool


def _check(label: str, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` is valid for ``label``, and the value to keep (CBOR bytes -> base64url)."""
    if label in _NUMBERS:
        if type(value) is float:
            return True, value
        if type(value) is int:
            try:
                return True, float(value)
            except OverflowError:  # a CBOR bignum: keep its sign, the range check rejects it
                return True, (math.inf if value > 0 else -math.inf)
        return False, value
    if label in _STRINGS:
        if label == "vd" and type(value) is bytes:
            return True, base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")
        return type(value) is str, value
    if label == "vb":
        return type(value) is bool, value
    return type(value) is int, value  # bver


def check_records(items: list[Any], *, cbor: bool) -> list[Record | BadRecord]:
    """Turn loosely decoded pack elements into records, or rejections naming what is wrong.

    Unknown labels are ignored as RFC 8428 §4.4 requires, except must-understand ones (ending in
    ``_``), which reject their record.
    """
    out: list[Record | BadRecord] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            out.append(BadRecord(Rejection("schema", "a SenML record must be a map", index), False))
            continue
        clean: dict[str, Any] = {}
        problems: list[str] = []
        poisons = False
        for raw_label, value in item.items():
            label = CBOR_LABELS.get(raw_label) if cbor and type(raw_label) is int else raw_label
            if label in Record.__struct_fields__:
                ok, kept = _check(label, value)
                if ok:
                    clean[label] = kept
                else:
                    problems.append(f"{label} has the wrong type ({type(value).__name__})")
                    poisons = poisons or label in BASE_LABELS
            elif isinstance(label, str) and label.endswith("_"):
                problems.append(f"must-understand field {label!r} is not supported")
                poisons = True  # it may change how every later record is read
        if problems:
            out.append(BadRecord(Rejection("schema", "; ".join(problems), index), poisons))
        else:
            out.append(Record(**clean))
    return out


def time_rejection(t: float, received_at: float, index: int | None, field: str | None) -> Rejection:
    """The rejection of a time outside the accepted window (or not a number)."""
    if math.isnan(t):
        return Rejection("schema", "time is not a number", index, field)
    if t > received_at:
        return Rejection(
            "time_in_future", f"time {t:.3f} is {t - received_at:.0f} s after receipt", index, field
        )
    return Rejection("too_old", f"time {t:.3f} is {received_at - t:.0f} s before receipt", index, field)


def _value(rec: Record, kind: str, bv: float, bs: float) -> float | str:
    """The record's resolved value for a field read from ``kind``, or why there is none."""
    present = [k for k in ("v", "vs", "vb", "vd") if getattr(rec, k) is not UNSET]
    if len(present) > 1:
        return f"a record carries one value, not {', '.join(present)}"
    if kind == "s":
        return "record has no sum (s)" if rec.s is UNSET else bs + rec.s
    if kind == "v":
        return bv + rec.v if rec.v is not UNSET else f"expected a numeric value (v), got {present or 'none'}"
    return (
        (1.0 if rec.vb else 0.0)
        if rec.vb is not UNSET
        else f"expected a boolean (vb), got {present or 'none'}"
    )


def normalise_pack(
    items: list[Record] | list[Record | BadRecord], received_at: float, model: CompiledModel
) -> Normalised:
    """Resolve a pack and map each record to a reading or a rejection (the pack policy).

    One loop on purpose (hence its length): it is the per-record hot path, and each check as a
    function of its own would cost a call per record (``hatang bench normalise`` measures it).
    """
    readings: list[Reading] = []
    rejections: list[Rejection] = []
    if not items:
        return Normalised(readings, [Rejection("schema", "the SenML pack is empty")])
    limits = model.limits
    oldest, newest = received_at - limits.max_age_s, received_at + limits.max_future_s
    fields = model.by_senml_name
    seen: set[tuple[float, str]] = set()
    # (name, unit) -> what it resolves to: a pack repeats a few names, each checked once per pack
    # (the name's regular expression, the field and unit lookups were a third of a record's cost).
    resolved: dict[tuple[str, str | None], tuple[str, CompiledField, Affine]] = {}
    new = tuple.__new__  # a Reading without the named tuple's Python-level __new__
    bn, bt, bu, bv, bs = "", 0.0, None, 0.0, 0.0
    poisoned: int | None = None
    for index, rec in enumerate(items):
        if poisoned is not None:
            rejections.append(Rejection("schema", f"record {poisoned} set invalid base fields", index))
            continue
        if type(rec) is BadRecord:
            rejections.append(rec.rejection)
            poisoned = index if rec.poisons else None
            continue
        assert type(rec) is Record
        if rec.bver is not UNSET and not 1 <= rec.bver <= SUPPORTED_VERSION:
            rejections.append(Rejection("schema", f"SenML version {rec.bver} is not supported", index))
            poisoned = index
            continue
        if rec.bn is not UNSET:
            bn = rec.bn
        if rec.bt is not UNSET:
            bt = rec.bt
        if rec.bu is not UNSET:
            bu = rec.bu
        if rec.bv is not UNSET:
            bv = rec.bv
        if rec.bs is not UNSET:
            bs = rec.bs
        name = bn if rec.n is UNSET else bn + rec.n
        unit = rec.u if rec.u is not UNSET else bu
        hit = resolved.get((name, unit))
        if hit is None:
            if not _NAME.fullmatch(name):
                rejections.append(Rejection("schema", f"invalid record name {name!r}", index))
                continue
            key = name[max(name.rfind(":"), name.rfind("/")) + 1 :]
            field = fields.get(key)
            if field is None:
                rejections.append(
                    Rejection("unknown_field", f"{key!r} is not a field of this model", index, key)
                )
                continue
            conversion = field.senml_units.get(unit)
            if conversion is None:
                accepted = ", ".join(u for u in field.senml_units if u)
                rejections.append(
                    Rejection("unit", f"unit {unit!r} for {key}; accepted: {accepted}", index, key)
                )
                continue
            hit = resolved[(name, unit)] = (key, field, conversion)
        key, field, conversion = hit
        kind = field.spec.senml_value
        if kind == "v" and rec.v is not UNSET and rec.vs is UNSET and rec.vb is UNSET and rec.vd is UNSET:
            raw: float | str = bv + rec.v  # the common case, without building the list of kinds
        else:
            raw = _value(rec, kind, bv, bs)
        if type(raw) is str:
            rejections.append(Rejection("schema", f"{key}: {raw}", index, key))
            continue
        assert type(raw) is float
        t = bt if rec.t is UNSET else bt + rec.t
        if t < RELATIVE_TIME_LIMIT:
            t += received_at
        if not oldest <= t <= newest:
            rejections.append(time_rejection(t, received_at, index, key))
            continue
        if conversion.divisor == 1.0:
            value = raw * conversion.scale + conversion.offset
        else:  # an exact decimal down-scaling (mA -> A): the correctly rounded quotient
            value = raw / conversion.divisor + conversion.offset
        if not field.low <= value <= field.high:
            rejections.append(
                Rejection(
                    "out_of_range",
                    f"{key} = {value} {field.metric} outside [{field.low}, {field.high}]",
                    index,
                    key,
                )
            )
            continue
        if (t, field.metric) in seen:
            rejections.append(Rejection("duplicate", f"{key} at {t} already given in this pack", index, key))
            continue
        seen.add((t, field.metric))
        readings.append(new(Reading, (t, field.metric, value)))
    return Normalised(readings, rejections)
