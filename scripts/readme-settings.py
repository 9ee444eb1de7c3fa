"""Rewrite the README's settings table (run after adding a setting; tests/hatang/test_readme.py checks)."""

from __future__ import annotations

import re
from pathlib import Path

from hatang.commands.settings import variables
from hatang.settings import Settings

readme = Path(__file__).resolve().parents[1] / "README.md"
rows = ["| variable | default | meaning |", "|---|---|---|"]
rows += [f"| `{var}` | `{default}` | {meaning} |" for var, default, meaning in variables(Settings)]
text = readme.read_text()
start, end = "<!-- settings-table:", "<!-- /settings-table -->"
header = text[text.index(start) : text.index("\n", text.index(start)) + 1]
pattern = re.compile(re.escape(start) + r"[^\n]*\n.*?" + re.escape(end), re.S)
readme.write_text(pattern.sub(lambda _: header + "\n".join(rows) + "\n" + end, text))
