"""Bulk-upload rows: reading CSV or NDJSON incrementally and validating each row. Pure: no I/O.

``RowReader`` is fed the body in chunks of any size and yields one ``(line, fields)`` or
``(line, error)`` per record, so memory stays flat in the size of the upload. CSV has a header row
and one record per line (no newlines inside fields); NDJSON has one JSON object per line. Blank
lines are skipped. ``validate_device`` / ``validate_asset`` check one row's fields as the database
will (same patterns as its CHECK constraints) and return a clean row or the list of what is wrong;
references (organisation, model, asset, area) are resolved later, set-based, by ``onboarding``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from firmware_contracts import vocabulary

Format = Literal["csv", "ndjson"]

DEVICE_ID = re.compile(vocabulary.DEVICE_ID)
ASSET_ID = re.compile(vocabulary.ASSET_ID)
SLUG = re.compile(vocabulary.SLUG)
MODEL = re.compile(vocabulary.MODEL)
KIND = re.compile(vocabulary.KIND)
# A sector's code (sectors are data, migration 1002: whether it exists is checked against the table).
SECTOR = re.compile(vocabulary.SECTOR_CODE)
DEVICE_COLUMNS = (
    "external_id", "model", "model_version", "organisation", "asset", "firmware_version", "metadata", "state",
)  # fmt: skip
ASSET_COLUMNS = ("external_id", "organisation", "area", "sector", "kind", "name", "lat", "lon", "essential",
                 "metadata")  # fmt: skip
MAX_LINE_BYTES = 65_536


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device row that passed validation."""

    line: int
    external_id: str
    model: str
    model_version: int | None
    organisation: str | None
    asset: str | None
    firmware_version: str | None
    metadata: str
    state: str


@dataclass(frozen=True, slots=True)
class AssetRow:
    """An asset row that passed validation."""

    line: int
    external_id: str
    organisation: str | None
    area: str
    sector: str
    kind: str
    name: str
    lat: float | None
    lon: float | None
    essential: bool
    metadata: str


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that failed: its line, its external id when readable, and every reason."""

    line: int
    external_id: str | None
    errors: tuple[str, ...]


class RowReader:
    """Incremental reader of CSV (with header) or NDJSON: ``feed`` chunks, then ``finish``."""

    def __init__(self, fmt: Format, *, columns: tuple[str, ...]) -> None:
        self.fmt = fmt
        self.columns = columns
        self.header: list[str] | None = None
        self._buffer = b""
        self._line = 0
        self._skipping = False

    def feed(self, chunk: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """Records completed by ``chunk``: ``(line, fields)`` or ``(line, error message)``."""
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        for raw in complete:
            if self._skipping:  # the rest of an over-long line, already reported
                self._skipping = False
                continue
            self._line += 1
            yield from self._record(raw)
        if len(self._buffer) > MAX_LINE_BYTES and not self._skipping:
            self._line += 1
            self._skipping = True
            yield self._line, f"line longer than {MAX_LINE_BYTES} bytes"
        if self._skipping:
            self._buffer = b""

    def finish(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """The last record, when the body does not end with a newline."""
        if self._buffer.strip() and not self._skipping:
            self._line += 1
            yield from self._record(self._buffer)
        self._buffer = b""

    def _record(self, raw: bytes) -> Iterator[tuple[int, dict[str, Any] | str]]:
        try:
            text = raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError:
            yield self._line, "not UTF-8"
            return
        if self._line == 1:
            text = text.removeprefix("\ufeff")
        if not text.strip():
            return
        if self.fmt == "ndjson":
            try:
                value = json.loads(text)
            except ValueError as exc:
                yield self._line, f"not JSON: {exc}"
                return
            yield self._line, value if isinstance(value, dict) else "not a JSON object"
            return
        try:
            fields = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            yield self._line, f"not CSV: {exc}"
            return
        if self.header is None:
            self.header = [name.strip() for name in fields]
            if unknown := [name for name in self.header if name not in self.columns]:
                yield self._line, f"unknown columns {unknown}; known: {list(self.columns)}"
            return
        if len(fields) != len(self.header):
            yield self._line, f"{len(fields)} fields, the header has {len(self.header)}"
            return
        yield (
            self._line,
            {name: value for name, value in zip(self.header, fields, strict=True) if value != ""},
        )


def _text(fields: dict[str, Any], name: str, errors: list[str], *, pattern: re.Pattern[str] | None = None,
          required: bool = False, max_length: int = 200) -> str | None:  # fmt: skip
    value = fields.get(name)
    if value is None or value == "":
        if required:
            errors.append(f"{name}: required")
        return None
    if not isinstance(value, str):
        errors.append(f"{name}: must be text")
        return None
    if len(value) > max_length or "\x00" in value or (pattern is not None and not pattern.fullmatch(value)):
        errors.append(f"{name}: invalid {value[:80]!r}")
        return None
    return value


def _number(fields: dict[str, Any], name: str, errors: list[str], *, low: float, high: float) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        errors.append(f"{name}: must be a number in [{low}, {high}]")
        return None
    return number


def _metadata(fields: dict[str, Any], errors: list[str]) -> str:
    value = fields.get("metadata")
    if value is None or value == "":
        return "{}"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            errors.append("metadata: not JSON")
            return "{}"
    if not isinstance(value, dict):
        errors.append("metadata: must be a JSON object")
        return "{}"
    try:
        text = json.dumps(value, allow_nan=False)
    except ValueError:
        errors.append("metadata: not plain JSON")
        return "{}"
    if len(text) > 16_384 or "\\u0000" in text:
        errors.append("metadata: larger than 16 KiB or holds NUL")
        return "{}"
    return text


def _unknown(fields: dict[str, Any], columns: tuple[str, ...], errors: list[str]) -> None:
    if unknown := sorted(set(fields) - set(columns)):
        errors.append(f"unknown fields {unknown[:5]}")


def validate_device(line: int, fields: dict[str, Any]) -> DeviceRow | RowError:
    """A clean device row, or every reason it is not one."""
    errors: list[str] = []
    _unknown(fields, DEVICE_COLUMNS, errors)
    external_id = _text(fields, "external_id", errors, pattern=DEVICE_ID, required=True, max_length=64)
    model = _text(fields, "model", errors, pattern=MODEL, required=True, max_length=100)
    version = _number(fields, "model_version", errors, low=1, high=2**31 - 1)
    if version is not None and not version.is_integer():
        errors.append("model_version: must be an integer")
    organisation = _text(fields, "organisation", errors, pattern=SLUG, max_length=63)
    asset = _text(fields, "asset", errors, pattern=ASSET_ID, max_length=128)
    firmware = _text(fields, "firmware_version", errors, max_length=100)
    metadata = _metadata(fields, errors)
    state = _text(fields, "state", errors) or "provisioned"
    if state not in ("provisioned", "active"):
        errors.append("state: a new device is provisioned or active")
    if errors or external_id is None or model is None:
        return RowError(line, external_id or _peek(fields), tuple(errors))
    return DeviceRow(line, external_id, model, None if version is None else int(version), organisation, asset,
                     firmware, metadata, state)  # fmt: skip


def validate_asset(line: int, fields: dict[str, Any]) -> AssetRow | RowError:
    """A clean asset row, or every reason it is not one."""
    errors: list[str] = []
    _unknown(fields, ASSET_COLUMNS, errors)
    external_id = _text(fields, "external_id", errors, pattern=ASSET_ID, required=True, max_length=128)
    organisation = _text(fields, "organisation", errors, pattern=SLUG, max_length=63)
    area = _text(fields, "area", errors, pattern=SLUG, required=True, max_length=63)
    sector = _text(fields, "sector", errors, pattern=SECTOR, required=True, max_length=63)
    kind = _text(fields, "kind", errors, pattern=KIND, required=True, max_length=63)
    name = _text(fields, "name", errors) or ""
    lat = _number(fields, "lat", errors, low=-90, high=90)
    lon = _number(fields, "lon", errors, low=-180, high=180)
    raw_essential = fields.get("essential", True)
    essential = {"true": True, "false": False, "1": True, "0": False, True: True, False: False}.get(
        raw_essential.lower() if isinstance(raw_essential, str) else raw_essential
    )
    if essential is None:
        errors.append("essential: true or false")
    metadata = _metadata(fields, errors)
    if errors or external_id is None or area is None or sector is None or kind is None or essential is None:
        return RowError(line, external_id or _peek(fields), tuple(errors))
    return AssetRow(line, external_id, organisation, area, sector, kind, name, lat, lon, essential, metadata)


def _peek(fields: dict[str, Any]) -> str | None:
    value = fields.get("external_id")
    return value[:128] if isinstance(value, str) else None
