"""JSON Schema (draft 2020-12) of a device model's native payload, generated from the contract.

Owns :func:`json_schema`. Ranges are given in the firmware's units (the metric's plausible range
converted back, narrowed by the sensor's range), so device makers can validate their own output.
"""

from __future__ import annotations

from typing import Any

from firmware_contracts.compiled import canonical_range, compiled_default
from firmware_contracts.model import DeviceModel

_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_TYPES = {"number": "number", "integer": "integer", "boolean": "boolean"}


def json_schema(model: DeviceModel) -> dict[str, Any]:
    """The JSON Schema of ``model``'s native payload (a JSON object)."""
    compiled = compiled_default(model)
    properties: dict[str, Any] = {}
    required: list[str] = []
    if model.time is not None:
        spec = model.time
        if spec.format == "rfc3339":
            properties[spec.field] = {
                "type": "string",
                "format": "date-time",
                "description": "Time of the measurement, RFC 3339 with a UTC offset.",
            }
        else:
            unit = "seconds" if spec.format == "epoch_s" else "milliseconds"
            properties[spec.field] = {
                "type": "number",
                "description": f"Time of the measurement, {unit} since 1970-01-01T00:00:00Z.",
            }
        if spec.required:
            required.append(spec.field)
    for field in compiled.fields:
        spec_f = field.spec
        prop: dict[str, Any] = {
            "type": _TYPES[spec_f.type],
            "description": f"{spec_f.description} [{spec_f.unit}] -> {spec_f.metric}",
        }
        if spec_f.type != "boolean":
            ends = sorted(field.native.invert(end) for end in canonical_range(spec_f, field.native))
            prop["minimum"], prop["maximum"] = ends
            prop["x-unit"] = spec_f.unit
        properties[spec_f.key] = prop
        if spec_f.required:
            required.append(spec_f.key)
    for key in model.metadata:
        properties[key] = {"description": "Metadata, accepted and not stored as a reading."}
    return {
        "$schema": _DIALECT,
        "$id": f"urn:hatang:contract:{model.id}:v{model.version}:native",
        "title": f"{model.id} v{model.version} native payload",
        "description": model.description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        # A payload must measure something: at least one field besides time and metadata.
        "anyOf": [{"required": [field.spec.key]} for field in compiled.fields],
    }
