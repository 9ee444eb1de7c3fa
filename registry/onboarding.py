"""Bulk onboarding of devices and assets: 100,000 rows in one upload, memory flat in the row count.

The body is read incrementally (``registry.uploads``), each row validated in Python and copied
(COPY) into a session-local staging table; references are then resolved set-based in SQL
(organisation, device model, asset, area; repeats inside the upload; ids that already exist), MQTT
secrets are derived and hashed in chunks only for rows that will be created, and the new rows are
inserted with one ``INSERT .. SELECT`` in one transaction, with their audit entries.

Semantics (docs/registry.md): **partial** by default — valid rows are written, invalid ones reported;
**atomic** on request — any invalid row and nothing is written. Idempotent by external id: a row
whose id already exists in the same organisation is reported ``exists`` and left unchanged (no new
secret: rotate to get one), so retrying the same file is safe. The per-row report is written to a
caller-supplied binary file as JSON lines (``line``, ``external_id``, ``status``: ``created`` |
``exists`` | ``failed`` | ``skipped`` (valid, not written because the atomic upload was rejected),
``errors``). Secrets are never stored: each is derived from the upload's random key and the device id
(``registry.credentials.derive_secret``) when the report is sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import IO, Any, Literal

import psycopg
from psycopg import sql

from registry.audit import Actor
from registry.credentials import derive_secret, hash_secrets
from registry.uploads import (
    ASSET_COLUMNS,
    DEVICE_COLUMNS,
    AssetRow,
    DeviceRow,
    Format,
    RowError,
    RowReader,
    validate_asset,
    validate_device,
)

Entity = Literal["devices", "assets"]


class UploadTooLargeError(Exception):
    """The body exceeded the configured limit; nothing was written."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the upload exceeds {limit} bytes")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class BulkOutcome:
    """What an upload did."""

    entity: Entity
    rows: int
    created: int
    exists: int
    failed: int
    atomic: bool
    written: bool


_STAGING: dict[Entity, str] = {
    "devices": """
        CREATE TEMP TABLE bulk_devices (
            line int PRIMARY KEY, external_id text, model text, model_version int, organisation text,
            asset text, firmware_version text, metadata text, state text, errors jsonb,
            org_id bigint, model_id int, asset_id bigint, status text)
    """,
    "assets": """
        CREATE TEMP TABLE bulk_assets (
            line int PRIMARY KEY, external_id text, organisation text, area text, sector text, kind text,
            name text, lat double precision, lon double precision, essential boolean, metadata text,
            demo boolean, errors jsonb, org_id bigint, area_id bigint, status text)
    """,
}

# Set-based resolution, in order; each statement only looks at rows without errors so far.
_RESOLVE_COMMON = [
    """
    UPDATE {t} b SET errors = jsonb_build_array('external_id: repeats line ' || f.first)
    FROM (SELECT external_id, min(line) AS first FROM {t} WHERE errors IS NULL
          GROUP BY external_id HAVING count(*) > 1) f
    WHERE b.errors IS NULL AND b.external_id = f.external_id AND b.line > f.first
    """,
    """
    UPDATE {t} b SET org_id = o.id FROM organisations o
    WHERE b.errors IS NULL AND o.slug = coalesce(b.organisation, %(default)s)
      AND (%(writable)s::bigint IS NULL OR o.id = %(writable)s)
    """,
    """
    UPDATE {t} SET errors = '["organisation: unknown, or not one this key may change"]'
    WHERE errors IS NULL AND org_id IS NULL
    """,
]
_RESOLVE: dict[Entity, list[str]] = {
    "devices": [
        """
        UPDATE bulk_devices b SET model_id = m.id FROM device_models m
        WHERE b.errors IS NULL AND b.model_version IS NOT NULL
          AND m.model = b.model AND m.version = b.model_version
        """,
        """
        UPDATE bulk_devices b SET model_id = n.id
        FROM (SELECT DISTINCT ON (model) model, id FROM device_models ORDER BY model, version DESC) n
        WHERE b.errors IS NULL AND b.model_version IS NULL AND n.model = b.model
        """,
        "UPDATE bulk_devices SET errors = '[\"model: no such device model\"]'"
        " WHERE errors IS NULL AND model_id IS NULL",
        """
        UPDATE bulk_devices b SET asset_id = a.id FROM assets a
        WHERE b.errors IS NULL AND b.asset IS NOT NULL
          AND a.external_id = b.asset AND a.organisation_id = b.org_id
        """,
        """
        UPDATE bulk_devices SET errors = '["asset: no such asset in the device''s organisation"]'
        WHERE errors IS NULL AND asset IS NOT NULL AND asset_id IS NULL
        """,
        """
        UPDATE bulk_devices b SET
            status = CASE WHEN d.organisation_id = b.org_id THEN 'exists' END,
            errors = CASE WHEN d.organisation_id <> b.org_id
                          THEN '["external_id: taken by another organisation''s device"]'::jsonb END
        FROM devices d WHERE b.errors IS NULL AND d.external_id = b.external_id
        """,
    ],
    "assets": [
        """
        UPDATE bulk_assets b SET area_id = a.id FROM areas a
        WHERE b.errors IS NULL AND a.code = b.area AND a.retired_at IS NULL
        """,
        """
        UPDATE bulk_assets SET errors = '["area: no such area, or it is retired"]'
        WHERE errors IS NULL AND area_id IS NULL
        """,
        """
        UPDATE bulk_assets b SET errors = '["sector: no such sector"]'
        WHERE errors IS NULL AND NOT EXISTS (SELECT 1 FROM sectors s WHERE s.code = b.sector)
        """,
        """
        UPDATE bulk_assets b SET
            status = CASE WHEN s.organisation_id = b.org_id THEN 'exists' END,
            errors = CASE WHEN s.organisation_id <> b.org_id
                          THEN '["external_id: taken by another organisation''s asset"]'::jsonb END
        FROM assets s WHERE b.errors IS NULL AND s.external_id = b.external_id
        """,
    ],
}

_INSERT: dict[Entity, str] = {
    "devices": """
        WITH ins AS (
            INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state, firmware_version,
                                 metadata, mqtt_secret_hash, credentials_rotated_at)
            SELECT b.external_id, b.model_id, b.org_id, b.asset_id, b.state, b.firmware_version,
                   b.metadata::jsonb, h.secret_hash, now()
            FROM bulk_devices b JOIN bulk_hashes h USING (line)
            WHERE b.errors IS NULL AND b.status IS NULL ORDER BY b.line
            ON CONFLICT (external_id) DO NOTHING RETURNING external_id)
        UPDATE bulk_devices b SET status = 'created' FROM ins
        WHERE b.external_id = ins.external_id AND b.errors IS NULL AND b.status IS NULL
    """,
    "assets": """
        WITH ins AS (
            INSERT INTO assets
                (external_id, organisation_id, area_id, sector, kind, name, lat, lon, essential, metadata,
                 demo)
            SELECT external_id, org_id, area_id, sector, kind, name, lat, lon, essential, metadata::jsonb,
                   demo
            FROM bulk_assets WHERE errors IS NULL AND status IS NULL ORDER BY line
            ON CONFLICT (external_id) DO NOTHING RETURNING external_id)
        UPDATE bulk_assets b SET status = 'created' FROM ins
        WHERE b.external_id = ins.external_id AND b.errors IS NULL AND b.status IS NULL
    """,
}

_COLUMNS: dict[Entity, tuple[str, ...]] = {"devices": DEVICE_COLUMNS, "assets": ASSET_COLUMNS}
_ENTITY_NAME: dict[Entity, str] = {"devices": "device", "assets": "asset"}


def _staging_row(entity: Entity, row: DeviceRow | AssetRow | RowError) -> tuple[Any, ...]:
    if isinstance(row, RowError):
        errors = json.dumps(list(row.errors))
        blanks = (None,) * (len(_COLUMNS[entity]) - 1)
        return (row.line, row.external_id, *blanks, errors)
    if isinstance(row, DeviceRow):
        return (row.line, row.external_id, row.model, row.model_version, row.organisation, row.asset,
                row.firmware_version, row.metadata, row.state, None)  # fmt: skip
    return (row.line, row.external_id, row.organisation, row.area, row.sector, row.kind, row.name, row.lat,
            row.lon, row.essential, row.metadata, row.demo, None)  # fmt: skip


async def onboard(
    conn: psycopg.AsyncConnection[Any],
    *,
    entity: Entity,
    body: AsyncIterator[bytes],
    fmt: Format,
    default_organisation: str,
    writable: int | None,
    atomic: bool,
    upload_key: bytes,
    report: IO[bytes],
    actor: Actor,
    chunk_rows: int = 5000,
    hash_threads: int = 2,
    max_bytes: int | None = None,
) -> BulkOutcome:
    """Onboard the rows of ``body``; write the per-row report to ``report``; return the totals.

    ``writable`` is the one organisation rows may belong to (None: any); rows name their
    organisation by slug, ``default_organisation`` when they name none. ``conn`` is autocommit.

    Kept whole: the staging table's life (stage, resolve, write, report) sits in the one
    ``try``/``finally`` that drops it, and its steps read in the order they run.
    """
    table = f"bulk_{entity}"
    ident = sql.Identifier(table)
    columns = ("line", *_COLUMNS[entity], "errors")
    validate: Callable[[int, dict[str, Any]], DeviceRow | AssetRow | RowError] = (
        validate_device if entity == "devices" else validate_asset
    )
    drop = sql.SQL("DROP TABLE IF EXISTS pg_temp.{}, pg_temp.bulk_hashes").format(sql.Identifier(table))
    await conn.execute(drop)
    await conn.execute(_STAGING[entity])
    try:
        rows = await _stage(conn, table=table, columns=columns, entity=entity, body=body, fmt=fmt,
                            validate=validate, chunk_rows=chunk_rows, max_bytes=max_bytes)  # fmt: skip
        # Temporary tables are never auto-analysed: without statistics the joins below plan as nested
        # loops over 100,000 rows (minutes instead of seconds).
        await conn.execute(sql.SQL("CREATE INDEX ON {} (external_id)").format(ident))
        await conn.execute(sql.SQL("ANALYZE {}").format(ident))
        params = {"default": default_organisation, "writable": writable}
        for statement in [*_RESOLVE_COMMON, *_RESOLVE[entity]]:
            await conn.execute(sql.SQL(statement).format(t=sql.Identifier(table)), params)
        failed = await _count(conn, sql.SQL("SELECT count(*) FROM {} WHERE errors IS NOT NULL").format(ident))
        written = not (atomic and failed)
        if written:
            if entity == "devices":
                await _hash(conn, upload_key=upload_key, chunk_rows=chunk_rows, threads=hash_threads)
            async with conn.transaction():
                await conn.execute(_INSERT[entity])
                # Lost a race with a concurrent upload of the same id: it exists now.
                await conn.execute(
                    sql.SQL("UPDATE {} SET status = 'exists' WHERE errors IS NULL AND status IS NULL").format(
                        ident
                    )
                )
                await conn.execute(
                    sql.SQL(
                        """
                        INSERT INTO audit_log
                            (api_key_id, actor, organisation_id, action, entity, entity_id, detail)
                        SELECT %s, %s, org_id, 'create', %s, external_id,
                               jsonb_build_object('bulk', true, 'line', line)
                        FROM {} WHERE status = 'created' ORDER BY line
                        """
                    ).format(ident),
                    (actor.api_key_id, actor.name, _ENTITY_NAME[entity]),
                )
        created = await _count(
            conn, sql.SQL("SELECT count(*) FROM {} WHERE status = 'created'").format(ident)
        )
        exists = await _count(conn, sql.SQL("SELECT count(*) FROM {} WHERE status = 'exists'").format(ident))
        async with conn.cursor() as cur:
            async for line, external_id, status, errors in cur.stream(
                sql.SQL("SELECT line, external_id, status, errors FROM {} ORDER BY line").format(ident)
            ):
                outcome = "failed" if errors is not None else status or "skipped"
                entry = {"line": line, "external_id": external_id, "status": outcome, "errors": errors or []}
                report.write(json.dumps(entry).encode() + b"\n")
    finally:
        await conn.execute(drop)
    return BulkOutcome(entity=entity, rows=rows, created=created, exists=exists, failed=failed, atomic=atomic,
                       written=written)  # fmt: skip


async def _count(conn: psycopg.AsyncConnection[Any], query: sql.Composed) -> int:
    cur = await conn.execute(query)
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _stage(
    conn: psycopg.AsyncConnection[Any],
    *,
    table: str,
    columns: tuple[str, ...],
    entity: Entity,
    body: AsyncIterator[bytes],
    fmt: Format,
    validate: Callable[[int, dict[str, Any]], DeviceRow | AssetRow | RowError],
    chunk_rows: int,
    max_bytes: int | None,
) -> int:
    reader = RowReader(fmt, columns=_COLUMNS[entity])
    pending: list[tuple[Any, ...]] = []
    rows = 0
    size = 0
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )

    async def flush() -> None:
        if pending:
            async with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for item in pending:
                    await copy.write_row(item)
            pending.clear()

    def take(records: Any) -> None:
        nonlocal rows
        for line, fields in records:
            rows += 1
            row = validate(line, fields) if isinstance(fields, dict) else RowError(line, None, (fields,))
            pending.append(_staging_row(entity, row))

    async for chunk in body:
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise UploadTooLargeError(max_bytes)
        take(reader.feed(chunk))
        if len(pending) >= chunk_rows:
            await flush()
    take(reader.finish())
    if fmt == "csv" and reader.header is None and rows == 0:
        take([(1, "empty upload: a CSV upload starts with a header row")])
    await flush()
    return rows


async def _hash(
    conn: psycopg.AsyncConnection[Any], *, upload_key: bytes, chunk_rows: int, threads: int
) -> None:
    """Hash the secrets of the rows to create, chunk by chunk, into ``bulk_hashes``."""
    await conn.execute("CREATE TEMP TABLE bulk_hashes (line int PRIMARY KEY, secret_hash text NOT NULL)")
    after = 0
    while True:
        cur = await conn.execute(
            "SELECT line, external_id FROM bulk_devices WHERE errors IS NULL AND status IS NULL AND line > %s"
            " ORDER BY line LIMIT %s",
            (after, chunk_rows),
        )
        batch = await cur.fetchall()
        if not batch:
            await conn.execute("ANALYZE bulk_hashes")
            return
        plain = [derive_secret(upload_key, external_id) for _, external_id in batch]
        hashes = await asyncio.to_thread(hash_secrets, plain, threads=threads)
        async with (
            conn.cursor() as copy_cur,
            copy_cur.copy("COPY bulk_hashes (line, secret_hash) FROM STDIN") as copy,
        ):
            for (line, _), hashed in zip(batch, hashes, strict=True):
                await copy.write_row((line, hashed))
        after = batch[-1][0]
