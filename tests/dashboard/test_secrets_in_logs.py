"""No secret reaches the API server's log (finding 6): ``hatang api`` as run in production, its log
read back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from hatang.stack import Stack
from tests.plugins.api import Keys
from tests.plugins.ports import free_port


async def _open(url: str) -> str:
    async with connect(url) as ws:
        return str(await ws.recv())


def test_stream_handshakes_and_queries_are_logged_without_secrets(
    db_url: str, stack: Stack, keys: Keys, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "HATANG_DATABASE_URL": db_url, "HATANG_MQTT_URL": stack.mqtt_url("api")}
    log = tmp_path / "api.log"
    with log.open("wb") as handle:
        server = subprocess.Popen(
            [sys.executable, "-m", "hatang.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        token = keys["admin"]["Authorization"].removeprefix("Bearer ")
        ticket = httpx.post(f"{base}/v1/streams/tickets", headers=keys["admin"]).json()["ticket"]
        ws = f"ws://127.0.0.1:{port}/v1/streams/readings"
        assert '"hello"' in asyncio.run(_open(f"{ws}?ticket={ticket}&sector=water"))
        assert '"status":401' in asyncio.run(_open(f"{ws}?key={token}")).replace(" ", "")
        httpx.get(f"{base}/v1/devices?key={token}", headers=keys["admin"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    # Positive: the handshakes were logged (so the absence below means something).
    assert "/v1/streams/readings?ticket=***&sector=***" in text, text
    assert "/v1/streams/readings?key=***" in text, text
    secret = token.split("_", 2)[2]  # htg_<prefix>_<secret>: the secret itself may hold "_"
    assert len(secret) == 43
    assert secret not in text
    assert ticket not in text
