"""Field types shared by the API's schemas: identifiers as the database constrains them, and metadata.

Each pattern matches the CHECK constraint of its column (0001_core.sql), so a value that passes
validation is one the database accepts: bad input is a 422, never a constraint error.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from registry.mosquitto import RESERVED_PREFIX, is_reserved

DEVICE_ID = r"^[a-z0-9][a-z0-9_-]{1,63}$"
ASSET_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
KIND = r"^[a-z][a-z0-9_]{0,62}$"
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


#: Free-form JSON object attached to an asset or device (at most 16 KiB).
Metadata = Annotated[
    dict[str, Any], AfterValidator(_metadata), Field(description="A JSON object, at most 16 KiB.")
]


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


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
