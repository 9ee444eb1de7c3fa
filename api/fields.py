"""Field types shared by the API's schemas: identifiers as the database constrains them, and metadata.

Each pattern matches the CHECK constraint of its column (0001_core.sql), so a value that passes
validation is one the database accepts: bad input is a 422, never a constraint error.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from firmware_contracts.vocabulary import ASSET_ID, DEVICE_ID, KIND, SECTOR_CODE, SLUG

# The identifier patterns are the vocabulary's (firmware_contracts.vocabulary), named here for the schemas.
__all__ = [
    "ASSET_ID", "DEVICE_ID", "KIND", "MAX_METADATA_BYTES", "SECTOR_CODE", "SLUG", "Metadata", "Sector",
    "Text", "no_nul",
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
    """PostgreSQL text cannot hold NUL characters."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


#: Human text (names, firmware versions, reasons): any characters but NUL.
Text = Annotated[str, AfterValidator(no_nul)]
