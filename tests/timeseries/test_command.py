"""``hatang timeseries refresh|retention|status`` against the test's database."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from hatang.commands import timeseries as command
from hatang.settings import Settings
from tests.plugins.timeseries import Fleet


def test_refresh_retention_and_status(db_url: str, fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=db_url)
    now = datetime.now(UTC)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(minutes=m) for m in (30, 20, 10)])
    assert command._refresh(argparse.Namespace(), settings) == 0
    assert "3 late minutes re-aggregated" in capsys.readouterr().out
    assert fleet.conn.execute("SELECT sum(count) FROM readings_1m").fetchone() == (3,)
    assert command._retention(argparse.Namespace(), settings) == 0
    assert "readings 0" in capsys.readouterr().out
    assert command._status(argparse.Namespace(format="table"), settings) == 0
    assert "late minutes pending" in capsys.readouterr().out
    assert command._status(argparse.Namespace(format="json"), settings) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["edition"], status["chosen"], status["in_use"]) == ("apache", "tables", "tables")
    assert status["late_minutes_pending"] == 0
