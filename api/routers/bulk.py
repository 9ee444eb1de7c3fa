"""``/v1/bulk/devices`` and ``/v1/bulk/assets``: onboarding CSV or NDJSON uploads of up to 100,000+
rows in one request, streamed in and reported row by row.

The body is read as it arrives (memory flat in the row count); the report is spooled to a temporary
file (spilling to disk past 8 MiB) and streamed back after the commit, so the status code tells the
truth. Secrets never touch the spool: each device's is derived from the upload's random key (kept in
memory for this request only) while the report is sent. Partial by default; ``atomic=true`` writes
nothing unless every row is valid. docs/api.md describes the formats.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from api.auth import Writer
from api.db import Conn
from api.metrics import BULK_ROWS
from api.problems import COMMON, PROBLEM_TYPES, Problem, responses
from registry import (
    ASSET_COLUMNS,
    DEVICE_COLUMNS,
    BulkOutcome,
    Entity,
    Format,
    UploadTooLargeError,
    derive_secret,
    new_upload_key,
    onboard,
    publish_topic,
)

router = APIRouter(prefix="/v1/bulk", tags=["bulk onboarding"])

NDJSON = "application/x-ndjson"
_FORMATS: dict[str, Format] = {
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/jsonl": "ndjson",
}
_SPOOL_BYTES = 8 * 1024 * 1024


def _format(request: Request) -> Format:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = _FORMATS.get(media)
    if fmt is None:
        raise Problem(
            "unsupported-media-type", f"send text/csv or application/x-ndjson, not {media or 'nothing'!r}"
        )
    return fmt


def _report_lines(
    report: IO[bytes], outcome: BulkOutcome, *, key: bytes, prefix: str, with_secrets: bool
) -> Iterator[bytes]:
    # Yields ~64 KiB at a time: one thread hop per line would cost more than the lines themselves.
    try:
        buffer = [json.dumps({"summary": _summary(outcome)}).encode() + b"\n"]
        size = 0
        report.seek(0)
        for raw in report:
            if with_secrets and b'"status": "created"' in raw:
                entry = json.loads(raw)
                entry["mqtt_username"] = entry["external_id"]
                entry["mqtt_secret"] = derive_secret(key, entry["external_id"])
                entry["topic"] = publish_topic(prefix, entry["external_id"])
                entry["publish_topic"] = publish_topic(prefix, entry["external_id"])
                raw = json.dumps(entry).encode() + b"\n"  # noqa: PLW2901 - the line, with its secret
            buffer.append(raw)
            size += len(raw)
            if size >= 65_536:
                yield b"".join(buffer)
                buffer, size = [], 0
        yield b"".join(buffer)
    finally:
        report.close()


def _rejection(request: Request, report: IO[bytes], outcome: BulkOutcome) -> Iterator[bytes]:
    kind = PROBLEM_TYPES["bulk-rejected"]
    head = {
        "type": kind.uri, "title": kind.title, "status": kind.status,
        "detail": f"{outcome.failed} of {outcome.rows} rows are invalid; nothing was written",
        "instance": request.url.path, "summary": _summary(outcome),
    }  # fmt: skip
    try:
        yield json.dumps(head).encode()[:-1] + b', "rows": ['
        report.seek(0)
        first = True
        for raw in report:
            if b'"status": "failed"' in raw:
                yield (b"" if first else b",") + raw.rstrip(b"\n")
                first = False
        yield b"]}"
    finally:
        report.close()


def _summary(outcome: BulkOutcome) -> dict[str, Any]:
    return {
        "entity": outcome.entity, "rows": outcome.rows, "created": outcome.created, "exists": outcome.exists,
        "failed": outcome.failed, "atomic": outcome.atomic, "written": outcome.written,
    }  # fmt: skip


async def _upload(
    request: Request, principal: Writer, conn: Conn, *, entity: Entity, atomic: bool
) -> StreamingResponse:
    fmt = _format(request)
    settings = request.app.state.settings
    key = new_upload_key()
    report: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed by the stream

    async def body() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            yield chunk

    try:
        outcome = await onboard(
            conn, entity=entity, body=body(), fmt=fmt, default_organisation=principal.organisation,
            writable=None if principal.is_admin else principal.organisation_id, atomic=atomic, upload_key=key,
            report=report, actor=principal.actor, chunk_rows=settings.registry.bulk_chunk_rows,
            hash_threads=settings.registry.hash_threads, max_bytes=settings.api.bulk_max_bytes,
        )  # fmt: skip
    except UploadTooLargeError as exc:
        report.close()
        raise Problem("payload-too-large", str(exc)) from None
    except BaseException:
        report.close()
        raise
    name = entity.removesuffix("s")
    BULK_ROWS.labels(name, "created").inc(outcome.created)
    BULK_ROWS.labels(name, "exists").inc(outcome.exists)
    BULK_ROWS.labels(name, "failed").inc(outcome.failed)
    if not outcome.written:
        return StreamingResponse(_rejection(request, report, outcome), status_code=422,
                                 media_type="application/problem+json")  # fmt: skip
    lines = _report_lines(
        report, outcome, key=key, prefix=settings.topic_prefix, with_secrets=entity == "devices"
    )
    return StreamingResponse(lines, media_type=NDJSON)


def _openapi(columns: tuple[str, ...], example_csv: str, example_ndjson: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": example_csv},
                NDJSON: {"schema": {"type": "string"}, "example": example_ndjson},
            },
            "description": f"One row per line. Columns / keys: {', '.join(columns)}.",
        }
    }


_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Written. NDJSON: a `summary` line, then one line per row "
        "(`line`, `external_id`, `status`: created | exists | failed, `errors`; devices created now "
        "also carry `mqtt_username`, `mqtt_secret` — shown this once — `topic`, the prefix the device "
        "may publish under, and `publish_topic`, the exact topic of its readings).",
        "content": {NDJSON: {"schema": {"type": "string"}}},
    }
}
# What both uploads answer, and their one query parameter.
_RESPONSES = {**_REPORT, **responses(*COMMON, "bulk-rejected", "payload-too-large", "unsupported-media-type")}
Atomic = Annotated[bool, Query(description="Write nothing unless every row is valid.")]


@router.post(
    "/devices",
    summary="Onboard devices from CSV or NDJSON (credentials included)",
    response_class=StreamingResponse,
    responses=_RESPONSES,
    openapi_extra=_openapi(
        DEVICE_COLUMNS,
        "external_id,model,organisation,asset,state\nwq-bn-000123,sonde-wq6,bn-water,ps-tien-du-01,active\n",
        '{"external_id": "wq-bn-000123", "model": "sonde-wq6", "organisation": "bn-water", '
        '"asset": "ps-tien-du-01", "state": "active"}\n',
    ),
)
async def bulk_devices(
    request: Request, principal: Writer, conn: Conn, atomic: Atomic = False
) -> StreamingResponse:
    return await _upload(request, principal, conn, entity="devices", atomic=atomic)


@router.post(
    "/assets",
    summary="Onboard assets from CSV or NDJSON",
    response_class=StreamingResponse,
    responses=_RESPONSES,
    openapi_extra=_openapi(
        ASSET_COLUMNS,
        "external_id,organisation,area,sector,kind,name,lat,lon\n"
        "ps-tien-du-01,bn-water,tien-du,water,pumping_station,Trạm bơm 1,21.12,106.02\n",
        '{"external_id": "ps-tien-du-01", "organisation": "bn-water", "area": "tien-du", "sector": "water", '
        '"kind": "pumping_station"}\n',
    ),
)
async def bulk_assets(
    request: Request, principal: Writer, conn: Conn, atomic: Atomic = False
) -> StreamingResponse:
    return await _upload(request, principal, conn, entity="assets", atomic=atomic)
