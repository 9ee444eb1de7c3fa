"""``hatang keys create`` makes the first admin key (and its organisation); the key authenticates."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from hatang.cli import main
from hatang.stack import Stack
from registry.keys import authenticate


async def _role_of(db_url: str, token: str) -> tuple[str, str] | None:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        key = await authenticate(conn, token=token)
    return None if key is None else (key.organisation, key.role)


def test_keys_create_prints_a_working_key(
    db_url: str, stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HATANG_DATABASE_URL", db_url)
    monkeypatch.setenv("HATANG_MQTT_URL", stack.mqtt_url("api"))
    assert main(["keys", "create", "--org", "ubnd-bac-ninh", "--role", "admin", "--name", "first"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert asyncio.run(_role_of(db_url, token)) == ("ubnd-bac-ninh", "admin")
    assert asyncio.run(_role_of(db_url, token[:-1] + ("A" if token[-1] != "A" else "B"))) is None
