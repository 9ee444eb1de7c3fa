"""The generated entry point of a compiled model: straight-line Python written once per model.

Owns :func:`entry_source` and :func:`build_entry`. From a model's contract they write a small
function that checks the size, and for a native JSON payload decodes it with the model's msgspec
struct, converts each field with its precomputed ``(scale, offset)`` and checks the ranges, all
constants inlined. Anything else, and any payload with anything wrong, goes to the general path
(``general`` in normalise.py), which explains the problem; so the fast path never decides a
rejection, it only accepts payloads that are entirely fine.

The generated source holds only numbers (``repr`` of floats round-trips exactly) and catalogue
metric names (validated snake_case), never text taken from a payload. A generic loop over the
fields costs three times as much per message on CPython 3.11, which is why this module exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from firmware_contracts.model import DeviceModel
from firmware_contracts.outcome import Normalised, Reading

Entry = Callable[[Any, float], Normalised]
Plan = tuple[tuple[str, float, float, float, float], ...]  # metric, scale, offset, low, high per field


def entry_source(model: DeviceModel, plan: Plan, *, native: bool, max_age_s: float, max_future_s: float,
                 max_payload_bytes: int) -> str:  # fmt: skip
    """The source of the model's entry point (kept readable as ``CompiledModel.entry_source``)."""
    # Helpers bound as defaults are locals in the body, a little cheaper to reach than globals.
    lines = [
        "def entry(payload, received_at, decode=decode, UNSET=UNSET, new=new, Reading=Reading,",
        "          Normalised=Normalised):",
    ]
    if not native:
        return "\n".join([*lines, "    return general(payload, received_at, model)"]) + "\n"
    lines += [
        f"    if len(payload) > {max_payload_bytes!r} or not payload or payload[0] != 123:",
        "        return general(payload, received_at, model)",
    ]
    body = ["obj = decode(payload)"]
    spec = model.time
    if spec is None:
        body.append("t = received_at")
    else:
        convert = {"epoch_s": "obj.t", "epoch_ms": "obj.t * 0.001", "rfc3339": "obj.t.timestamp()"}[
            spec.format
        ]
        body.append(
            f"t = {convert}" if spec.required else f"t = received_at if obj.t is UNSET else {convert}"
        )
        body += [
            f"if not received_at - {max_age_s!r} <= t <= received_at + {max_future_s!r}:",
            "    return general(payload, received_at, model)",
        ]
    # Readings follow the contract's field order. The leading run of required fields goes into one
    # list display (appending costs a call each); later fields are appended.
    leading: list[str] = []
    rest: list[str] = []
    for index, ((metric, scale, offset, low, high), field) in enumerate(zip(plan, model.fields, strict=True)):
        # A float field in its canonical unit needs no arithmetic (msgspec already made it a float).
        identity = field.type == "number" and scale == 1.0 and offset == 0.0
        value = f"obj.f{index}" if identity else f"obj.f{index} * {scale!r} + {offset!r}"
        check = [
            f"v{index} = {value}",
            f"if not {low!r} <= v{index} <= {high!r}:",
            "    return general(payload, received_at, model)",
        ]
        reading = f"new(Reading, (t, {metric!r}, v{index}))"
        if field.required and not rest:
            body += check
            leading.append(reading)
        elif field.required:
            rest += [*check, f"readings.append({reading})"]
        else:
            rest += [f"if obj.f{index} is not UNSET:"] + [f"    {line}" for line in check]
            rest.append(f"    readings.append({reading})")
    body.append(f"readings = [{', '.join(leading)}]")
    body += rest
    if not any(field.required for field in model.fields):
        body += ["if not readings:", "    return general(payload, received_at, model)"]
    body.append("return Normalised(readings, [])")
    # Any exception (a failed decode, an integer beyond float range) also means "not entirely fine".
    lines += ["    try:"] + [f"        {line}" for line in body]
    lines += ["    except Exception:", "        return general(payload, received_at, model)"]
    return "\n".join(lines) + "\n"


def build_entry(
    source: str, decoder: msgspec.json.Decoder[Any] | None, general: Any
) -> tuple[Entry, dict[str, Any]]:
    """Compile an entry point; returns it and its globals, where the caller sets ``model``."""
    namespace: dict[str, Any] = {
        "decode": decoder.decode if decoder is not None else None,
        "general": general,
        "UNSET": msgspec.UNSET,
        "new": tuple.__new__,
        "Reading": Reading,
        "Normalised": Normalised,
        "model": None,
    }
    exec(compile(source, "<firmware_contracts entry>", "exec"), namespace)  # noqa: S102 - see module docstring
    function: Entry = namespace["entry"]
    return function, namespace
