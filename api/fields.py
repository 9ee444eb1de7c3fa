"""Field types shared by the API's schemas: identifiers as the database constrains them, and metadata.

Each pattern matches the CHECK constraint of its column (0001_core.sql), so a value that passes
validation is one the database accepts: bad input is a 422, never a constraint error.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from firmware_contracts.vocabulary import ASSET_ID, DEVICE_ID, KIND, SECTOR_CODE, SLUG
from registry import RESERVED_PREFIX, is_reserved

# The identifier patterns are the vocabulary's (firmware_contracts.vocabulary), named here for the schemas.
__all__ = [
    "ASSET_ID", "DEVICE_ID", "EARLIEST", "KIND", "LATEST", "MAX_METADATA_BYTES", "SECTOR_CODE", "SLUG", "Day",
    "Instant", "Metadata", "NewDeviceId", "Sector", "Text", "no_nul", "not_reserved",
]  # fmt: skip
MAX_METADATA_BYTES = 16_384


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    try:
        text = json.dumps(value, allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"metadata must be plain JSON: {exc}") from None
    if len(text.encode()) > MAX_METADATA_BYTES or "\\u0000" in text:
        raise ValueError(
            f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON without NUL characters"
        )
    return value


#: A sector's code. Sectors are data (``sectors``, migration 1002): the pattern is the domain's
#: check; whether the sector exists is the database's (an unknown one is a 422 invalid-reference).
Sector = Annotated[str, StringConstraints(pattern=SECTOR_CODE, max_length=63)]


#: Free-form JSON object attached to an asset or device (at most 16 KiB).
Metadata = Annotated[
    dict[str, Any], AfterValidator(_metadata), Field(description="A JSON object, at most 16 KiB.")
]


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters, nor lone UTF-16 surrogates (``"\\udc00"`` in JSON)."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (a lone surrogate such as \\udc00 is not)") from None
    return value


#: The instants and days a request may name: well inside what PostgreSQL, TimescaleDB's bucketing
#: and Python's datetime arithmetic handle (year 1 or 9999 overflow one of them).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a time needs a UTC offset, e.g. 2026-01-01T00:00:00Z or +07:00")
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"a time must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def _day(value: date) -> date:
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError(f"a day must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


#: An instant in a request: with a UTC offset, between 1970 and 9000.
Instant = Annotated[datetime, AfterValidator(_instant)]
#: A calendar day in a request: between 1970 and 9000.
Day = Annotated[date, AfterValidator(_day)]


def not_reserved(value: str) -> str:
    """Device ids starting with ``hatang`` belong to the platform's own broker accounts."""
    if is_reserved(value):
        raise ValueError(
            f"device ids starting with {RESERVED_PREFIX!r} are reserved for the platform's own accounts"
        )
    return value


#: A new device's external id: the device-id pattern, outside the service accounts' namespace.
NewDeviceId = Annotated[str, AfterValidator(not_reserved)]


#: Human text (names, firmware versions, reasons): any characters but NUL.
Text = Annotated[str, AfterValidator(no_nul)]
