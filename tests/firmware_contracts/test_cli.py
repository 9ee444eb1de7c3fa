"""``hatang contracts list|schema|check`` and the ``hatang bench normalise`` figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.normalise import measure
from firmware_contracts import DeviceModel
from hatang.cli import main


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "list"]) == 0
    out = capsys.readouterr().out
    assert "loopcount-il200" in out
    assert "sonde-wq6" in out


def test_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "schema", "sonde-wq6@1"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "sonde-wq6 v1 native payload"


def test_unknown_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "schema", "no-such-model"]) == 4
    assert "no model" in capsys.readouterr().err
    assert main(["contracts", "schema", "sonde-wq6@7"]) == 4


def test_every_example_passes_the_checker(
    models: dict[tuple[str, int], DeviceModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for model in models.values():
        for index, example in enumerate(model.examples):
            path = tmp_path / f"{model.id}-{index}.bin"
            path.write_bytes(example.payload)
            args = ["contracts", "check", f"{model.id}@{model.version}", str(path)]
            code = main([*args, "--received-at", str(example.received_at), "--format", "json"])
            result = json.loads(capsys.readouterr().out)
            assert code == 0, (model.id, example.name, result["rejections"])
            assert len(result["readings"]) == len(example.readings)


def test_check_prints_violations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"ts": 1748736000, "cnt": 3, "occ": 7, "colour": "red"}')
    assert main(["contracts", "check", "loopcount-il200", str(path), "--received-at", "1748736000"]) == 1
    out = capsys.readouterr().out
    assert "ok" in out
    assert "out_of_range" in out
    assert "unknown_field" in out


def test_check_a_model_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Path(__file__).parents[2] / "firmware_contracts" / "models" / "slc-n10.v1.yaml"
    payload = tmp_path / "p.json"
    payload.write_bytes(b'{"ts": 1748736000, "on": false, "dim": 0, "w": 0.3, "wh": 5, "v": 230}')
    assert main(["contracts", "check", str(model), str(payload), "--received-at", "1748736000"]) == 0
    assert "5 reading(s), 0 violation(s)" in capsys.readouterr().out


def test_bench_figures() -> None:
    figures = measure(seconds=0.01, messages=50)
    for key in ("normalise_native_msgs_s", "orjson_native_msgs_s", "ratio_native"):
        assert figures[key] > 0
    for key in ("normalise_senml_msgs_s", "orjson_senml_msgs_s", "ratio_senml", "normalise_senml_readings_s"):
        assert figures[key] > 0


def test_every_json_example_timed_now_passes_the_checker(
    models: dict[tuple[str, int], DeviceModel], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``contracts example MODEL --now`` prints a payload ingest accepts now (the getting-started page)."""
    for model in models.values():
        textual = [e for e in model.examples if e.format in ("native", "senml+json")]
        for index in range(len(textual)):
            assert main(["contracts", "example", model.id, "--example", str(index), "--now"]) == 0
            path = tmp_path / "payload.json"
            path.write_text(capsys.readouterr().out)
            assert main(["contracts", "check", model.id, str(path), "--format", "json"]) == 0, model.id
            result = json.loads(capsys.readouterr().out)
            assert len(result["readings"]) == len(textual[index].readings)
    assert main(["contracts", "example", "sonde-wq6", "--example", "no-such"]) == 4
