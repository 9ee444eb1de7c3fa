"""The city dashboard in headless Chromium (Debian's package, driven by Playwright; never downloaded).

The whole path is real: a reading published over MQTT by a device is normalised and committed by an
``hatang ingest`` worker, fanned out on the broker, received by the API's stream hub and shown by
the page. A screenshot is kept in test-artifacts/dashboard.png.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

from api.app import create_app
from hatang.settings import Settings
from hatang.stack import Stack
from tests.plugins.api import Keys
from tests.plugins.ingest import DEVICE_MOUNT, Workers, publish
from tests.plugins.ports import free_port
from tests.plugins.timeseries import Fleet

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


class Server:
    """The API under uvicorn in a thread of this process, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=2
            )
        )
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "the API did not start"
            assert time.monotonic() < deadline, "the API did not start in time"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serving(db_url: str, stack: Stack, topic_prefix: str) -> Iterator[Server]:
    """The API serving the page, over the test's database and topics, until the block ends."""
    settings = Settings(topic_prefix=topic_prefix, streams={"heartbeat_s": 2})
    running = Server(create_app(settings, database_url=db_url, mqtt_url=stack.mqtt_url("api")))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@contextmanager
def opened(url: str, token: str) -> Iterator[tuple[Page, list[str]]]:
    """The page at ``url`` in Chromium, logged in with ``token``, and the page errors it raises."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{url}/?key={token}")
            yield page, errors
        finally:
            browser.close()


@pytest.fixture
def server(db_url: str, stack: Stack, topic_prefix: str, keys: Keys, fleet: Fleet) -> Iterator[Server]:
    """The API serving the page, over the test's database and topics."""
    with serving(db_url, stack, topic_prefix) as running:
        yield running


def _sonde(temp: float, at: datetime) -> bytes:
    return orjson.dumps({"datetime": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "serial": "WQ6-TEST", "battery": 12.6,
                         "ph": 7.21, "turb": 0.42, "cl2": 0.65, "temp": temp})  # fmt: skip


def test_the_page_shows_readiness_and_live_readings(
    *,
    server: Server, keys: Keys, fleet: Fleet, workers: Workers, stack: Stack, topic_prefix: str
) -> None:
    now = datetime.now(UTC)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(minutes=m) for m in range(90, 0, -3)])
    workers.start()
    admin = keys["admin"]
    token = admin["Authorization"].removeprefix("Bearer ")
    readiness = httpx.get(f"{server.url}/v1/readiness", headers=admin).json()
    expected = {s["sector"]: s["ready_share"] for s in readiness["sectors"]}
    assert len(expected) == 5

    with opened(server.url, token) as (page, errors):
        assert "key=" not in page.url  # the key leaves the address bar
        page.wait_for_selector("#connection[data-state=connected]", timeout=20_000)
        assert "Đã kết nối" in page.inner_text("#connection")
        page.wait_for_selector("#readiness g.sector-row", timeout=20_000)
        shown = {
            row.get_attribute("data-sector"): row.get_attribute("data-share")
            for row in page.query_selector_all("#readiness g.sector-row")
        }
        assert shown.keys() == expected.keys()
        for sector, share in expected.items():
            assert shown[sector] == ("" if share is None else _js_number(share)), sector
        targets = page.query_selector_all("#readiness line.target")
        assert {float(t.get_attribute("data-target") or "nan") for t in targets} == {
            float(s["target_share"]) for s in readiness["sectors"] if s["target_share"] is not None
        }
        page.wait_for_selector("#areas tbody tr[data-area=tu-son]", timeout=20_000)
        page.wait_for_selector("#map circle[data-asset=plant-1]", timeout=20_000)
        assert page.inner_text("#health tbody tr[data-sector=water] td[data-state=online]") == "1"
        page.wait_for_selector("#chart svg polyline", timeout=20_000)

        # A device publishes over MQTT; ingest commits it and fans it out; the page shows it.
        topic = f"{DEVICE_MOUNT}{topic_prefix}/devices/wq-1/telemetry"
        message = (topic, _sonde(31.337, datetime.now(UTC)))
        publish(stack.mqtt_url("simulator"), [message])
        # vi-VN decimal comma, with the metric's unit
        page.wait_for_selector("#feed tbody tr[data-device=wq-1] >> text=31,337 °C", timeout=15_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        page.click("#lang")
        assert page.inner_text("h1") == "IoT-ready infrastructure — Bắc Ninh province"
        assert "Connected" in page.inner_text("#connection")
        page.click("#lang")
        assert page.inner_text("h1") == "Hạ tầng sẵn sàng IoT — tỉnh Bắc Ninh"

        # The API goes away: the page says so plainly.
        server.stop()
        page.wait_for_selector("#connection[data-state=disconnected]", timeout=20_000)
        assert "MẤT KẾT NỐI" in page.inner_text("#connection")
        _assert_no_errors(page, errors)


def _js_number(value: float) -> str:
    """How JavaScript's String(number) spells a float (repr matches for these shares)."""
    text = repr(float(value))
    return text.removesuffix(".0")


def _assert_no_errors(page: Page, errors: list[str]) -> None:
    assert errors == [], errors
    assert page.query_selector("#login:not([hidden])") is None
