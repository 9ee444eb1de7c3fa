"""How every ``hatang`` command prints data: one ``--format table|json|csv`` convention.

A command builds rows (plain dicts with the same keys) and hands them to ``render``; ``table`` is
for people, ``json`` (one object per invocation) and ``csv`` (a header, then one line per row) for
scripts. Progress and messages go to stderr, so stdout stays parseable in every format. This module
never reads settings or talks to a service.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")


def add_format_argument(parser: argparse.ArgumentParser, *, default: str = "table") -> None:
    """Give ``parser`` the shared ``--format`` option."""
    parser.add_argument(
        "--format", choices=FORMATS, default=default, help=f"output format (default {default})"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as aligned text columns (numbers right-aligned, ``-`` for none)."""
    if not rows:
        return "(none)"
    cols = list(columns or rows[0].keys())
    cells = [[_cell(row.get(c)) for c in cols] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    numeric = [all(isinstance(row.get(c), int | float) or row.get(c) is None for row in rows) for c in cols]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(cols), *(line(r) for r in cells)])


def render(
    rows: Sequence[Mapping[str, Any]],
    fmt: str,
    *,
    columns: Sequence[str] | None = None,
    meta: Mapping[str, Any] | None = None,
    key: str = "items",
) -> str:
    """``rows`` in format ``fmt``; in JSON they sit under ``key`` beside ``meta``."""
    if fmt == "json":
        return json.dumps({**(meta or {}), key: list(rows)}, ensure_ascii=False, default=str)
    if fmt == "csv":
        cols = list(columns or (rows[0].keys() if rows else []))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=cols, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: json.dumps(v) if isinstance(v, list | dict) else v for c, v in row.items()})
        return out.getvalue().rstrip("\n")
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    return table(rows, columns)
