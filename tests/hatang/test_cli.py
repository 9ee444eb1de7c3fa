"""The ``hatang`` command's conventions: ``--version``, one ``--format``, no traceback for expected
failures (documented exit codes), and the import commands through the bulk API."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from hatang.cli import build_parser, main
from hatang.commands.run import _processes, banner
from hatang.output import FORMATS
from hatang.settings import Settings
from hatang.stack import Stack
from tests.plugins.api import Keys
from tests.plugins.ports import free_port


def _parsers(
    parser: argparse.ArgumentParser, path: str = "hatang"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("hatang ")


def test_one_format_option_everywhere() -> None:
    """No command has its own ``--json``/``--csv``; every ``--format`` offers table, json and csv."""
    with_format = []
    for path, parser in _parsers(build_parser()):
        options = {opt: action for action in parser._actions for opt in action.option_strings}
        assert "--json" not in options, path
        assert "--csv" not in options, path
        if "--format" in options:
            assert tuple(options["--format"].choices or ()) == FORMATS, path
            with_format.append(path)
    expected = (
        "stack status", "contracts list", "contracts check", "readiness", "readiness gaps", "settings",
        "migrate", "timeseries status", "keys create", "devices import", "assets import",
    )  # fmt: skip
    for command in expected:
        assert f"hatang {command}" in with_format


def test_every_format_parses(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["contracts", "list"], ["settings"]):
        assert main([*argv, "--format", "json"]) == 0
        assert isinstance(json.loads(capsys.readouterr().out), dict)
        assert main([*argv, "--format", "csv"]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert len(rows) > 5


def test_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    url = f"postgresql://hatang@127.0.0.1:{free_port()}/hatang"
    env = {"HATANG_DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    for argv in (["migrate"], ["readiness"], ["timeseries", "status"], ["keys", "create", "--org", "x",
                                                                           "--role", "viewer"]):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "hatang.cli", *argv], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert done.returncode == 3, (argv, done.stderr)
        assert "Traceback" not in done.stderr, argv
        assert "unreachable" in done.stderr, argv


def test_unknown_model_is_refused_with_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "schema", "wq-sonde"]) == 4
    assert "no model 'wq-sonde'" in capsys.readouterr().err


def _client_env(monkeypatch: pytest.MonkeyPatch, url: str, headers: dict[str, str]) -> None:
    monkeypatch.setenv("HATANG_CLIENT__API_URL", url)
    monkeypatch.setenv("HATANG_CLIENT__API_KEY", headers["Authorization"].removeprefix("Bearer "))


def test_assets_then_devices_import_through_the_bulk_api(
    *, api_server: str, keys: Keys, api_db: psycopg.Connection[Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    _client_env(monkeypatch, api_server, keys["operator_a"])
    assets = tmp_path / "assets.csv"
    assets.write_text(
        "external_id,area,sector,kind,name,lat,lon\n"
        "ps-tien-du-01,tien-du,water,pumping_station,Trạm bơm Tiên Du 1,21.12,106.02\n"
        "ps-nowhere-01,no-such-area,water,pumping_station,Nowhere,21.1,106.0\n"
    )
    assert main(["assets", "import", str(assets)]) == 1  # one row refused: done, but failed
    out, err = capsys.readouterr()
    assert "importing assets" in err  # the progress bar, on stderr
    assert "ps-tien-du-01" in out
    assert "created" in out
    assert "ps-nowhere-01" in out
    assert "failed" in out
    assert "2 rows: 1 created, 0 already there, 1 failed" in out
    assert api_db.execute("SELECT count(*) FROM assets").fetchone() == (1,)

    devices = tmp_path / "devices.ndjson"
    row = {"external_id": "wq-bn-000123", "model": "sonde-wq6", "asset": "ps-tien-du-01", "state": "active"}
    devices.write_text(json.dumps(row) + "\n")
    assert main(["devices", "import", str(devices), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["created"] == 1
    (created,) = report["rows"]
    assert created["status"] == "created"
    assert created["mqtt_username"] == "wq-bn-000123"
    assert created["publish_topic"] == "city/v1/devices/wq-bn-000123/telemetry"
    assert created["mqtt_secret"]

    # Atomic: nothing written, exit 4, the bad row reported.
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,model\nok-000001,sonde-wq6\nbad-000001,wq-sonde\n")
    assert main(["devices", "import", str(bad), "--atomic", "--format", "csv"]) == 4
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["external_id"] for r in rows] == ["bad-000001"]
    assert api_db.execute("SELECT count(*) FROM devices WHERE external_id = 'ok-000001'").fetchone() == (0,)


def test_import_refusals_are_clean(
    *, api_server: str, keys: Keys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    rows = tmp_path / "a.csv"
    rows.write_text("external_id,area,sector,kind\nx-1,tien-du,water,pumping_station\n")
    _client_env(monkeypatch, api_server, {"Authorization": "Bearer not-a-key"})
    assert main(["assets", "import", str(rows)]) == 4
    assert "401" in capsys.readouterr().err
    _client_env(monkeypatch, api_server, keys["viewer_a"])
    assert main(["assets", "import", str(rows)]) == 4
    assert "403" in capsys.readouterr().err
    assert main(["assets", "import", str(tmp_path / "missing.csv")]) == 4
    assert "cannot read" in capsys.readouterr().err
    assert main(["assets", "import", str(tmp_path / "rows.xlsx")]) == 4
    monkeypatch.setenv("HATANG_CLIENT__API_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["assets", "import", str(rows)]) == 3
    assert "unreachable" in capsys.readouterr().err


def test_run_banner_leads_with_the_dashboard(stack: Stack) -> None:
    settings = Settings(api={"port": 8123})
    processes = _processes(settings)
    text = banner(settings, status=stack.status(), applied=0, demo_key="hk_demo", processes=processes)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    assert lines[1] == "dashboard: http://127.0.0.1:8123/  (paste the demo admin key below)"
    assert lines[2] == "demo admin key: hk_demo"
    assert "docs/getting-started.md" in lines[3]
    assert not any(line.endswith("/docs") for line in lines[:4])
