"""Printing the report's HTML to PDF with the system Chromium, driven by Playwright.

Owns :func:`print_pdf`. The browser is the machine's own (``HATANG_REPORT__CHROMIUM``, Debian's
``/usr/bin/chromium`` by default): Playwright never downloads one here. The page is loaded from its
file, so nothing is fetched from the network; the footer carries page numbers.
"""

from __future__ import annotations

from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip
FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#667085">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


class PdfError(Exception):
    """The PDF could not be printed (no Playwright, no browser, or the browser failed)."""


def print_pdf(html: Path, pdf: Path, *, chromium: str) -> None:
    """Print ``html`` (a file) to ``pdf``: A4, backgrounds, page numbers in the footer."""
    try:
        from playwright.sync_api import Error, sync_playwright  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        raise PdfError("the PDF needs Playwright: pip install 'hatang[report]'") from exc
    if not Path(chromium).exists():
        raise PdfError(f"no browser at {chromium} (HATANG_REPORT__CHROMIUM)")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(html.resolve().as_uri(), wait_until="load")
                page.pdf(
                    path=str(pdf), format="A4", print_background=True, display_header_footer=True,
                    header_template="<div></div>", footer_template=FOOTER,
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                )  # fmt: skip
            finally:
                browser.close()
    except Error as exc:
        raise PdfError(f"the browser failed: {exc.message}") from exc
