"""The generated JSON Schemas: valid draft 2020-12, and they agree with the normaliser."""

from __future__ import annotations

import jsonschema
import orjson

from firmware_contracts import DeviceModel, compile_model, json_schema, normalise


def test_schemas_are_valid_and_accept_native_examples(models: dict[tuple[str, int], DeviceModel]) -> None:
    for model in models.values():
        schema = json_schema(model)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
        validator.check_schema(schema)
        for example in model.examples:
            if example.format == "native":
                validator.validate(orjson.loads(example.payload))


def test_schema_ranges_are_in_firmware_units(models: dict[tuple[str, int], DeviceModel]) -> None:
    schema = json_schema(models[("loopcount-il200", 1)])
    occupancy = schema["properties"]["occ"]
    assert (occupancy["x-unit"], round(occupancy["minimum"], 9), round(occupancy["maximum"], 9)) == (
        "/",
        0,
        1,
    )
    speed = schema["properties"]["spd"]
    assert round(speed["maximum"], 6) == 120  # the sensor's range, narrower than 250 km/h
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"ts", "cnt", "occ"}


def test_schema_and_normaliser_agree_on_bounds(models: dict[tuple[str, int], DeviceModel]) -> None:
    model = models[("pressurelog-pl20", 1)]
    top = json_schema(model)["properties"]["psi"]["maximum"]
    compiled = compile_model(model)
    at = normalise(orjson.dumps({"t": 1_748_736_000, "psi": top}), 1_748_736_000, compiled)
    above = normalise(orjson.dumps({"t": 1_748_736_000, "psi": top * 1.001}), 1_748_736_000, compiled)
    assert at.rejections == []
    assert [r.reason for r in above.rejections] == ["out_of_range"]
