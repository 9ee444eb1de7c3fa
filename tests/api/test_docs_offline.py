"""``/docs`` (Swagger UI) and ``/redoc`` render with no network beyond the API itself.

Headless Chromium (Debian's, driven by Playwright) with every request to a host other than
127.0.0.1 aborted and recorded: the pages must render the API's title and operations, ask for
nothing outside, and log no console error — as on a city network without internet.

One request outside is allowed: ReDoc's sidebar credit shows Redocly's logo from its CDN, hard-coded
in the bundle, and hides the image itself when that fails (no error, nothing else depends on it).
"""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
COSMETIC = {"https://cdn.redoc.ly/redoc/logo-mini.svg"}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


def test_swagger_ui_and_redoc_load_without_internet(api_server: str) -> None:
    outside: list[str] = []
    errors: list[str] = []
    local: list[str] = []

    def only_loopback(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
            local.append(url)
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and message.location.get("url") not in COSMETIC:
            errors.append(f"{message.text} ({message.location.get('url')})")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("console", console)
            page.on("pageerror", lambda exc: errors.append(str(exc)))

            page.goto(f"{api_server}/docs")
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "hatang" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector(".opblock-summary-path[data-path='/v1/devices']", timeout=30_000)
            assert any(url.endswith("/docs-assets/swagger-ui-bundle.js") for url in local)

            page.goto(f"{api_server}/redoc")
            page.wait_for_selector("h1 >> text=hatang", timeout=60_000)
            page.wait_for_selector("h2:has-text('Onboard devices from CSV or NDJSON')", timeout=30_000)
            assert any(url.endswith("/docs-assets/redoc.standalone.js") for url in local)
        finally:
            browser.close()
    assert set(outside) <= COSMETIC, outside
    assert errors == []
