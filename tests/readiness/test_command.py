"""``hatang readiness`` on the hand-computed province: table, JSON, CSV, gaps, snapshot."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from hatang.cli import build_parser
from hatang.errors import CommandError
from hatang.settings import Settings
from tests.plugins.readiness import EXPECTED, EXPECTED_GAPS, World


def _run(world: World, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["readiness", *argv])
    try:
        code = args.func(args, Settings(database_url=SecretStr(world.db_url)))
    except CommandError as exc:  # what ``hatang.cli.main`` prints and returns
        print(exc, file=sys.stderr)
        code = exc.exit_code
    out, err = capsys.readouterr()
    return code, out, err


def test_json_and_csv_carry_the_figures(
    readiness_world_now: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(readiness_world_now, ["--area", "tu-son", "--format", "json"], capsys)
    assert code == 0
    body = json.loads(out)
    figures = {
        s["sector"]: (s["essential"], s["equipped"], s["ready"]) for s in body["sectors"] if s["essential"]
    }
    assert figures == EXPECTED[("tu-son", None)]
    code, out, _ = _run(readiness_world_now, ["--org", "evn-bn", "--format", "csv"], capsys)
    rows = {r["sector"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["water"]["ready"], rows["water"]["status"], rows["water"]["still_needed"]) == (
        "2",
        "met",
        "0",
    )
    assert rows["transport"]["status"] == "missed"


def test_the_table_and_problems(readiness_world_now: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(readiness_world_now, [], capsys)
    assert code == 0
    assert "transport" in out
    assert "40.0%" in out  # water, exactly on the target
    code, _, err = _run(readiness_world_now, ["--area", "nowhere"], capsys)
    assert code == 4  # refused: docs/cli.md
    assert "nowhere" in err


def test_gaps_and_snapshot(readiness_world_now: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(readiness_world_now, ["gaps", "--format", "json"], capsys)
    assert code == 0
    assert {item["asset"]: item["reason"] for item in json.loads(out)["items"]} == EXPECTED_GAPS
    code, out, _ = _run(readiness_world_now, ["snapshot"], capsys)
    assert code == 0
    today = datetime.now(UTC).astimezone().date()
    assert out.startswith("readiness snapshot of ")
    assert "rows" in out
    assert abs((datetime.fromisoformat(out.split()[3].rstrip(":")).date() - today).days) <= 1
