"""The shipped device models: coverage of the plan's sectors, examples, and load-time validation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from firmware_contracts import (
    ContractError,
    DeviceModel,
    UnitError,
    compile_model,
    load_model_file,
    normalise,
)

FIRMWARE_UNITS = {"mph", "m/s", "psi", "kPa", "Wh", "L/s", "gal/min", "degF", "ft", "var", "/min"}


def test_at_least_eight_models_across_the_sectors(models: dict[tuple[str, int], DeviceModel]) -> None:
    assert len(models) >= 8
    sectors = {m.sector for m in models.values()}
    assert {"transport", "electricity", "water", "urban", "energy"} <= sectors
    units = {u for m in models.values() for f in m.fields for u in (f.unit, *f.senml_units)}
    assert units >= FIRMWARE_UNITS


def test_every_model_has_native_and_senml_examples(models: dict[tuple[str, int], DeviceModel]) -> None:
    for model in models.values():
        formats = {example.format for example in model.examples}
        assert {"native", "senml+json"} <= formats, model.id
        if "senml+cbor" in model.formats:
            assert "senml+cbor" in formats, model.id


def _examples(models: dict[tuple[str, int], DeviceModel]) -> list[tuple[DeviceModel, int]]:
    return [(m, i) for m in models.values() for i in range(len(m.examples))]


def test_every_example_normalises_to_its_readings(models: dict[tuple[str, int], DeviceModel]) -> None:
    for model, index in _examples(models):
        example = model.examples[index]
        result = normalise(example.payload, example.received_at, compile_model(model))
        assert result.rejections == [], (model.id, example.name)
        assert len(result.readings) == len(example.readings), (model.id, example.name)
        for got, want in zip(result.readings, example.readings, strict=True):
            assert got.time == want[0]
            assert got.metric == want[1]
            assert math.isclose(got.value, want[2], rel_tol=1e-9), (model.id, example.name, got, want)


GOOD = """
id: test-model
version: 1
sector: water
manufacturer: Test
description: A model for tests.
reporting_interval_s: 60
formats: [native]
time: {field: ts}
fields:
  - {key: p, metric: water_pressure, unit: psi}
examples: []
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_loads(tmp_path: Path) -> None:
    model = load_model_file(_write(tmp_path, GOOD))
    assert model.key == ("test-model", 1)
    assert model.field_for_metric("water_pressure").unit == "psi"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("version: 1", "version: 0"),
        ("sector: water", "sector: space"),
        ("formats: [native]", "formats: [xml]"),
        ("metric: water_pressure", "metric: water_pressure_typo"),
        ("{key: p,", "{key: p, colour: red,"),
        ("id: test-model", "id: Test Model"),
        ("time: {field: ts}", "time: {field: ts, format: iso}"),
        ("time: {field: ts}", "time: {field: p}"),  # key used twice
        ("reporting_interval_s: 60", "reporting_interval_s: -1"),
        ("unit: psi}", "unit: psi, type: boolean}"),
        ("unit: psi}", "unit: psi, range: [5, 1]}"),
        ("unit: psi}", "unit: psi, senml: {name: 'a:b'}}"),
        (
            "examples: []",
            "examples: [{name: x, format: senml+json, received_at: 0, payload: [], readings: []}]",
        ),
        ("fields:", "fields: []\nx:"),
    ],
)
def test_bad_files_raise(tmp_path: Path, old: str, new: str) -> None:
    assert old in GOOD
    with pytest.raises(ContractError):
        load_model_file(_write(tmp_path, GOOD.replace(old, new)))


@pytest.mark.parametrize("unit", ["NTU", "degF", "parsec-ish"])
def test_unconvertible_units_raise_unit_error(tmp_path: Path, unit: str) -> None:
    with pytest.raises(UnitError):
        load_model_file(_write(tmp_path, GOOD.replace("unit: psi", f"unit: {unit}")))


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(ContractError):
        load_model_file(tmp_path / "missing.yaml")
    with pytest.raises(ContractError):
        load_model_file(_write(tmp_path, "id: [unclosed"))
