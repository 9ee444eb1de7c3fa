"""The dashboard as a planner and an operator meet it, at 1366×900 and on a 390-px phone.

Headless Chromium (Debian's, through Playwright). At both sizes: no horizontal overflow, no console
error (the favicon included), a helpful page before a key, the readiness status and assets still
needed as text, units and metric names from the catalogue, a complete legend, translated tooltips,
demo data labelled and excludable, area levels from the data (districts retired: communes
shown), a chart with data from its first reading, and clusters with a note beyond a few thousand
assets. No live stream is needed here (tests/dashboard/test_page.py covers it): readings are put
in the database directly, as ingest would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from hatang.stack import Stack
from tests.dashboard.test_page import ARGS, CHROMIUM, Server, serving
from tests.plugins.api import Keys
from tests.plugins.timeseries import Fleet

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def board(db_url: str, stack: Stack, topic_prefix: str, keys: Keys, fleet: Fleet) -> Iterator[Server]:
    now = datetime.now(UTC)
    fleet.add_readings("wq-1", "water_temperature", [now - timedelta(minutes=m) for m in range(90, 0, -3)])
    fleet.add_readings("loop-1", "traffic_headway_mean", [now - timedelta(seconds=30)], values=[16.0832])
    fleet.conn.execute("UPDATE assets SET essential = true")
    with serving(db_url, stack, topic_prefix) as running:
        yield running


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Browser, size: str, errors: list[str]) -> Page:
    page = browser.new_page(viewport=SIZES[size])  # type: ignore[arg-type]

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} {message.location}")

    page.on("console", console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def _no_overflow(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def _token(keys: Keys, who: str = "admin") -> str:
    return keys[who]["Authorization"].removeprefix("Bearer ")


def _open(page: Page, server: Server, token: str) -> None:
    page.goto(f"{server.url}/?key={token}")
    page.wait_for_selector("#readiness-table td[data-status]", timeout=30_000)
    page.wait_for_selector("#map-note[data-shown]", timeout=30_000)
    page.wait_for_selector("#areas tbody tr", timeout=30_000)
    page.wait_for_selector("#chart svg", timeout=30_000)


@pytest.mark.parametrize("size", list(SIZES))
def test_before_a_key_the_page_explains_itself(board: Server, browser: Browser, size: str) -> None:
    errors: list[str] = []
    page = _page(browser, size, errors)
    page.goto(board.url)
    page.wait_for_selector("#login:not([hidden])")
    assert page.is_hidden("#board")
    assert "khoá API" in page.inner_text(".welcome")
    assert "make run" in page.inner_text("#login")
    assert page.evaluate("document.querySelector('link[rel=icon]').href").endswith("/favicon.svg")
    assert httpx.get(f"{board.url}/favicon.ico").status_code == 200
    _no_overflow(page)
    assert errors == []


@pytest.mark.parametrize("size", list(SIZES))
def test_the_board_reads_well_at_both_sizes(board: Server, browser: Browser, keys: Keys, size: str) -> None:
    errors: list[str] = []
    page = _page(browser, size, errors)
    _open(page, board, _token(keys))
    _no_overflow(page)

    statuses = page.eval_on_selector_all(
        "#readiness-table td[data-status]", "cells => cells.map(c => [c.dataset.status, c.textContent])"
    )
    assert len(statuses) == 5
    shown = {"met": "đạt", "on_track": "đúng tiến độ", "behind": "chậm tiến độ", "missed": "không đạt",
             "no_assets": "không có tài sản", "no_target": "không có mục tiêu"}  # fmt: skip
    for status, text in statuses:
        assert text == shown[status]
    needed = page.eval_on_selector_all(
        "#readiness-table td[data-still-needed]", "cells => cells.map(c => c.textContent)"
    )
    assert any(text.isdigit() for text in needed)

    # Units and metric names from the catalogue, in the page's language.
    options = page.eval_on_selector_all("#series option", "os => os.map(o => [o.value, o.textContent])")
    labels = dict(options)
    assert labels["wq-1|water_temperature"] == "wq-1 — Nhiệt độ nước"
    assert labels["loop-1|traffic_headway_mean"] == "loop-1 — Giãn cách xe trung bình"
    groups = page.eval_on_selector_all("#series optgroup", "gs => gs.map(g => g.label)")
    assert set(groups) == {"Nước", "Giao thông"}
    page.select_option("#series", "wq-1|water_temperature")
    page.wait_for_selector("#chart-note[data-unit=Cel]")
    assert "°C" in page.inner_text("#chart-note")
    assert page.query_selector("#chart svg polyline") is not None
    page.fill("#series-search", "giãn cách")
    found = page.eval_on_selector_all("#series option", "os => os.map(o => o.value)")
    assert found == ["loop-1|traffic_headway_mean"]
    # A series with one reading so far: a dot, round distinct ticks, the value with its unit.
    page.select_option("#series", "loop-1|traffic_headway_mean")
    page.wait_for_selector("#chart-note[data-unit=s]")
    ticks = page.eval_on_selector_all("#chart text.tick", "ts => ts.map(t => t.textContent)")
    assert len(ticks) >= 3
    assert len(set(ticks)) == len(ticks)
    assert "16,0832 s" in page.inner_text("#chart-note")
    assert page.query_selector("#chart svg circle.last") is not None

    # The legend names every colour a dot can have, grey included.
    legend = page.eval_on_selector_all("#map-legend li", "ls => ls.map(l => l.dataset.state)")
    assert legend == [
        "ready", "silent", "never_reported", "no_device", "device_not_active", "wrong_sector", "other"
    ]  # fmt: skip
    page.click("#lang")
    page.wait_for_selector("html[lang=en]")
    tooltip = page.eval_on_selector("#map circle[data-asset=substation-1] title", "t => t.textContent")
    assert tooltip.endswith("— no device"), tooltip
    body = page.inner_text("body")
    assert "sẵn sàng" not in body
    assert "no_device" not in body
    assert "traffic_headway_mean" not in body
    assert page.inner_text("#readiness-table td[data-status]") in {
        "met", "on track", "behind", "missed", "no assets", "no target"}  # fmt: skip
    _no_overflow(page)
    page.click("#lang")
    assert errors == []


def test_demo_data_is_labelled_and_can_be_left_out(
    board: Server, browser: Browser, keys: Keys, fleet: Fleet
) -> None:
    fleet.conn.execute("UPDATE assets SET demo = true WHERE external_id = 'plant-1'")
    errors: list[str] = []
    page = _page(browser, "desktop", errors)
    _open(page, board, _token(keys))
    page.wait_for_selector("#demo-badge:not([hidden])")
    assert page.get_attribute("#readiness-note", "data-demo-ready") == "1"
    assert "mẫu" in page.inner_text("#readiness-table tr[data-sector=water]")
    assert "demo" in (page.get_attribute("#map circle[data-asset=plant-1]", "class") or "")
    page.uncheck("#include-demo")
    page.wait_for_selector("#demo-badge[hidden]", state="attached")
    page.wait_for_selector("#readiness-note[data-demo-ready='0']", state="attached")
    page.wait_for_function("!document.querySelector('#map circle[data-asset=plant-1]')")
    assert page.inner_text("#readiness-table tr[data-sector=water] td[data-status]") == "không có tài sản"
    assert "Đã loại dữ liệu mẫu" in page.inner_text("#readiness-note")
    page.reload()  # the choice is remembered
    page.wait_for_selector("#readiness-note[data-demo-ready='0']", state="attached")
    assert not page.is_checked("#include-demo")
    assert errors == []


def test_area_levels_come_from_the_data(board: Server, browser: Browser, keys: Keys) -> None:
    admin = keys["admin"]
    errors: list[str] = []
    page = _page(browser, "desktop", errors)
    _open(page, board, _token(keys))
    levels = "rs => rs.map(r => r.dataset.level)"
    assert set(page.eval_on_selector_all("#areas tbody tr", levels)) == {"district"}
    # The 2025 reorganisation: communes move up to the province, the districts retire.
    with httpx.Client(base_url=board.url, headers=admin) as client:
        for area in client.get("/v1/areas", params={"level": "commune", "limit": 500}).json()["items"]:
            assert client.patch(f"/v1/areas/{area['code']}", json={"parent": "bac-ninh"}).status_code == 200
        for area in client.get("/v1/areas", params={"level": "district", "limit": 500}).json()["items"]:
            assert client.patch(f"/v1/areas/{area['code']}", json={"retired": True}).status_code == 200
    page.reload()
    page.wait_for_selector("#areas tbody tr[data-area=dong-ngan]", timeout=30_000)
    assert set(page.eval_on_selector_all("#areas tbody tr", levels)) == {"commune"}
    assert errors == []


def test_every_asset_is_loaded_and_clustered_beyond_a_few_thousand(
    board: Server, browser: Browser, keys: Keys, fleet: Fleet
) -> None:
    fleet.conn.execute(
        """
        INSERT INTO assets (external_id, organisation_id, area_id, sector, kind, name, lat, lon)
        SELECT 'bulk-' || n, (SELECT id FROM organisations WHERE slug = 'org-a'),
               (SELECT id FROM areas WHERE code = 'que-vo'), 'water', 'hydrant', 'Trụ cứu hoả ' || n,
               21.0 + (n % 97) * 0.002, 106.0 + (n / 97) * 0.006
        FROM generate_series(1, 10500) AS n
        """
    )
    errors: list[str] = []
    page = _page(browser, "desktop", errors)
    _open(page, board, _token(keys))
    page.wait_for_selector("#map-note[data-clustered=true]", timeout=60_000)
    assert page.get_attribute("#map-note", "data-shown") == str(10500 + 3)  # every asset, past 10,000
    counts = page.eval_on_selector_all("#map circle.cluster", "cs => cs.map(c => Number(c.dataset.count))")
    assert sum(counts) == 10503
    assert "cụm" in page.inner_text("#map-note")
    _no_overflow(page)
    assert errors == []


