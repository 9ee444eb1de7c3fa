"""The dashboard's alerts panel in headless Chromium (Debian's package, driven by Playwright).

Real alerts in the database (opened through the lifecycle the evaluator uses), the real API under
uvicorn, the page as shipped: open alerts by severity in Vietnamese first, English on the switch,
acknowledge by an operator (recorded in the database), a viewer told plainly it may not, and the
alerting assets ringed on the map. A screenshot is kept in test-artifacts/alerts.png.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from playwright.sync_api import sync_playwright

from alerts import Subject, open_alert
from tests.dashboard.test_page import ARGS, ARTIFACTS, CHROMIUM, Server, server  # noqa: F401 - fixture
from tests.plugins.alerts import add_rule
from tests.plugins.api import Keys
from tests.plugins.timeseries import Fleet

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


async def _open(db_url: str) -> dict[str, int]:
    critical = add_rule(
        db_url,
        "org-a",
        kind="threshold",
        severity="critical",
        scope_kind="device",
        scope_value="wq-1",
        metric="water_ph",
        operator="outside",
        low=6.5,
        high=8.5,
        duration_s=0,
    )
    minor = add_rule(
        db_url, "org-a", kind="silence", severity="minor", scope_kind="sector", scope_value="water",
        subject="device", duration_s=3600, name_vi="Thiết bị im lặng", name_en="Silent device",
    )  # fmt: skip
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT d.id, a.area_id, a.lat, a.lon FROM devices d JOIN assets a ON a.id = d.asset_id"
            " WHERE d.external_id IN ('wq-1', 'wq-2') ORDER BY d.external_id"
        )
        (one, area, lat, lon), (two, *_) = await cur.fetchall()
        ids = {}
        for name, rule, device in (("critical", critical, one), ("minor", minor, two)):
            subject = Subject(kind="device", id=device, sector="water", area_id=area, lat=lat, lon=lon)
            alert = await open_alert(conn, rule_id=rule, subject=subject, since=datetime.now(UTC), value=9.1)
            assert alert is not None
            ids[name] = alert
    return ids


def _state(db_url: str, alert: int) -> Any:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT state, acknowledge_note FROM alerts WHERE id = %s", (alert,)).fetchone()


def test_the_alerts_panel(server: Server, keys: Keys, fleet: Fleet, db_url: str) -> None:  # noqa: F811
    ids = asyncio.run(_open(db_url))
    operator = keys["operator_a"]["Authorization"].removeprefix("Bearer ")
    viewer = keys["viewer_a"]["Authorization"].removeprefix("Bearer ")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{server.url}/?key={operator}")
            page.wait_for_selector(f"#alerts-panel tr[data-alert='{ids['critical']}']", timeout=20_000)
            assert page.inner_text("#alerts-title") == "Cảnh báo đang mở"
            counts = {
                s.get_attribute("data-severity"): s.get_attribute("data-count")
                for s in page.query_selector_all("#alerts-panel .alert-count")
            }
            assert counts == {"critical": "1", "major": "0", "minor": "1", "info": "0"}
            rows = page.query_selector_all("#alerts-panel tbody tr")
            assert [r.get_attribute("data-severity") for r in rows] == ["critical", "minor"]  # worst first
            assert "Thiết bị im lặng" in rows[1].inner_text()
            # Both alerts concern plant-1's devices: one ring, the worst severity's.
            page.wait_for_selector(
                "#map circle.alert-ring.critical[data-alert-asset='plant-1']", timeout=20_000
            )
            assert len(page.query_selector_all("#map circle.alert-ring")) == 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "alerts.png"), full_page=True)

            page.fill(f"#alerts-panel input[data-alert='{ids['critical']}']", "đội 3 đang tới")
            page.click(f"#alerts-panel button.ack[data-alert='{ids['critical']}']")
            page.wait_for_selector(
                f"#alerts-panel tr[data-alert='{ids['critical']}'][data-state=acknowledged]"
            )
            assert _state(db_url, ids["critical"]) == ("acknowledged", "đội 3 đang tới")

            page.click("#lang")
            page.wait_for_function("document.getElementById('alerts-title').textContent === 'Open alerts'")
            assert "Acknowledged" in page.inner_text(f"#alerts-panel tr[data-alert='{ids['critical']}']")
            assert "Silent device" in page.inner_text(f"#alerts-panel tr[data-alert='{ids['minor']}']")

            # A viewer sees the alerts but may not acknowledge: said plainly, nothing changes.
            viewer_page = browser.new_page()
            viewer_page.on("pageerror", lambda exc: errors.append(str(exc)))
            viewer_page.goto(f"{server.url}/?key={viewer}")
            viewer_page.click(f"#alerts-panel button.ack[data-alert='{ids['minor']}']", timeout=20_000)
            # (a page of its own browser context: Vietnamese again)
            viewer_page.wait_for_selector("#alerts-panel .alert-message:has-text('không được xác nhận')")
            assert _state(db_url, ids["minor"])[0] == "open"
            assert errors == []
        finally:
            browser.close()
