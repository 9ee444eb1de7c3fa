"""The yearly readiness report (Kế hoạch 333/KH-UBND, IV.5.b): HTML, PDF and the data as CSV.

``render`` turns a ``registry.readiness.yearly.YearReport`` into a bilingual HTML page and CSV
files; ``pdf`` prints the page to PDF with the system Chromium. ``hatang report readiness`` is the
command that gathers, renders and writes them.
"""

from hatang.report.pdf import PdfError, print_pdf
from hatang.report.render import Files, render_csv, render_html

__all__ = ["Files", "PdfError", "print_pdf", "render_csv", "render_html"]
