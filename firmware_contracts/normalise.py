"""The normaliser: payload bytes of one device model to canonical readings and rejections.

Owns :func:`normalise`, a pure function (no I/O, no clock, no global state) that never raises. It
detects the format from the first byte (``{`` native JSON, ``[`` SenML JSON, a CBOR array header
SenML CBOR). Each compiled model has a generated entry point (fastpath.py) that accepts entirely
fine native payloads itself and hands everything else to :func:`general`: the SenML fast path, then
the detailed path, which names every problem. See docs/contracts.md for the pack policy and the reason codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cbor2
import msgspec

from firmware_contracts.native import normalise_native
from firmware_contracts.outcome import Normalised, Rejection
from firmware_contracts.senml import PACK_DECODER, check_records, normalise_pack

if TYPE_CHECKING:
    from firmware_contracts.compiled import CompiledModel

_OPEN_BRACE, _OPEN_BRACKET = 0x7B, 0x5B
_CBOR_ARRAY = range(0x80, 0xA0)  # major type 4, every length encoding
_CBOR_MAP = range(0xA0, 0xC0)
_JSON_WHITESPACE = b" \t\r\n"
# Untyped decoding for the detailed path: 1e400 becomes inf (then out_of_range), not a decode error.
_LOOSE_JSON = msgspec.json.Decoder(float_hook=float)


def _whole(reason: str, message: str) -> Normalised:
    return Normalised([], [Rejection(reason, message)])


def _detailed(payload: Any, received_at: float, model: CompiledModel) -> Normalised:
    if not isinstance(payload, bytes | bytearray | memoryview):
        return _whole("malformed", f"payload must be bytes, not {type(payload).__name__}")
    data = bytes(payload)
    if not data.strip(_JSON_WHITESPACE):
        return _whole("malformed", "empty payload")
    first = data[0]
    if first in _CBOR_ARRAY or first in _CBOR_MAP:
        if first in _CBOR_MAP:
            return _whole("schema", "a CBOR payload must be a SenML pack (array), not a map")
        if not model.senml_cbor:
            return _whole("schema", f"{model.model.id} does not send SenML CBOR")
        try:
            items = cbor2.loads(data)
        except Exception as exc:  # cbor2 raises decode, value, type, overflow and recursion errors
            return _whole("malformed", f"not CBOR: {type(exc).__name__}: {exc}"[:300])
        if not isinstance(items, list):
            return _whole("schema", "a CBOR payload must be a SenML pack (array)")
        return normalise_pack(check_records(items, cbor=True), received_at, model)
    try:
        decoded = _LOOSE_JSON.decode(data)
    except Exception as exc:  # DecodeError, and RecursionError on deep nesting
        return _whole("malformed", f"not JSON: {exc}"[:300])
    if isinstance(decoded, dict):
        if not model.native:
            return _whole("schema", f"{model.model.id} does not send native JSON objects")
        return normalise_native(decoded, received_at, model)
    if isinstance(decoded, list):
        if not model.senml_json:
            return _whole("schema", f"{model.model.id} does not send SenML JSON")
        return normalise_pack(check_records(decoded, cbor=False), received_at, model)
    return _whole(
        "schema", f"top level must be an object (native) or array (SenML), not {type(decoded).__name__}"
    )


def general(payload: Any, received_at: float, model: CompiledModel) -> Normalised:
    """Everything but the generated native fast path: size, SenML fast path, then the detailed path."""
    if len(payload) > model.limits.max_payload_bytes:
        return _whole("too_large", f"{len(payload)} bytes exceeds {model.limits.max_payload_bytes}")
    if payload and payload[0] == _OPEN_BRACKET and model.senml_json:
        try:
            records = PACK_DECODER.decode(payload)
        except Exception:  # noqa: S110 - unknown labels, wrong types: the detailed path explains
            pass
        else:
            return normalise_pack(records, received_at, model)
    return _detailed(payload, received_at, model)


def normalise(payload: bytes, received_at: float, model: CompiledModel) -> Normalised:
    """Normalise one message of ``model`` received at ``received_at`` (epoch seconds, UTC).

    Never raises: every problem is a :class:`Rejection` in the result, next to the readings of the
    parts that were fine.
    """
    try:
        return model.entry(payload, received_at)
    except Exception as exc:  # a bug in this package: report it as data, never crash the consumer
        if not isinstance(payload, bytes | bytearray | memoryview):
            return _whole("malformed", f"payload must be bytes, not {type(payload).__name__}")
        return _whole("internal", f"normaliser failed: {type(exc).__name__}: {exc}"[:300])
