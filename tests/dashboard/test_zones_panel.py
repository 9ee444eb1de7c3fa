"""The dashboard's zone panel in Debian's Chromium: every zone with its verdict, in both languages."""

from __future__ import annotations

import shutil

import httpx
import pytest

from tests.dashboard.test_page import CHROMIUM, opened
from tests.plugins.api import Keys
from tests.plugins.zones import EXPECTED_ZONES, ZoneWorld

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


def test_the_zone_panel_shows_what_the_api_says(zone_world: ZoneWorld, api_server: str, keys: Keys) -> None:
    admin = keys["admin"]
    api = httpx.get(f"{api_server}/v1/readiness/zones", headers=admin).json()
    token = admin["Authorization"].removeprefix("Bearer ")
    with opened(api_server, token) as (page, errors):
        page.wait_for_selector("#zones tbody tr[data-zone=z-ready]", timeout=20_000)
        shown = {
            row.get_attribute("data-zone"): row.get_attribute("data-ready")
            for row in page.query_selector_all("#zones tbody tr")
        }
        assert shown == {code: "true" if v[0] else "false" for code, v in EXPECTED_ZONES.items()}
        assert page.inner_text("#zones tr[data-zone=z-slow] td:last-child") == "chậm"
        total = api["total"]
        assert f"{total['ready']}/{total['zones']}" in page.inner_text("#zones-summary")
        page.click("#lang")
        page.wait_for_function("document.querySelector('#zones-title').textContent.startsWith('Low')")
        assert page.inner_text("#zones tr[data-zone=z-slow] td:last-child") == "slow"
        assert errors == []
