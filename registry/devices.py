"""Devices: the sensors, their lifecycle state and their MQTT credentials.

Owns the ``devices`` rows: create (issuing credentials: username = external id, a random secret
returned once, its ``$7$`` hash stored), read, list with filters, update, state changes along
``registry.lifecycle``, credential rotation, and deletion of devices that never went into service.
A device's asset, when set, belongs to the device's own organisation. Visibility (``within``) comes
from the caller. Rendering the broker's files from these rows is ``registry.broker``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from hatang.db import fetch_id, fetch_row
from registry.audit import Actor, record
from registry.credentials import new_secret
from registry.errors import ConflictError, InvalidReferenceError, NotFoundError
from registry.lifecycle import State, check_transition
from registry.mosquitto import hash_password


@dataclass(frozen=True, slots=True)
class Device:
    """One device row, with its model, organisation and asset by their public ids."""

    id: int
    external_id: str
    model: str
    model_version: int
    organisation_id: int
    organisation: str
    asset: str | None
    state: State
    firmware_version: str | None
    metadata: dict[str, Any]
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime
    credentials_rotated_at: datetime | None


@dataclass(frozen=True, slots=True)
class Credentials:
    """A device's MQTT credentials as issued: the secret exists only here."""

    username: str
    secret: str


SELECT = """
    SELECT d.id, d.external_id, m.model, m.version AS model_version, d.organisation_id,
           o.slug AS organisation, s.external_id AS asset, d.state, d.firmware_version, d.metadata,
           ds.last_seen, d.created_at, d.updated_at, d.credentials_rotated_at
    FROM devices d
    JOIN device_models m ON m.id = d.model_id
    JOIN organisations o ON o.id = d.organisation_id
    LEFT JOIN assets s ON s.id = d.asset_id
    LEFT JOIN device_seen ds ON ds.device_id = d.id
"""


async def get_device(conn: psycopg.AsyncConnection[Any], *, external_id: str, within: int | None) -> Device:
    """The device ``external_id`` (NotFoundError if absent or outside ``within``)."""
    return await fetch_row(
        conn,
        Device,
        SELECT + " WHERE d.external_id = %s AND (%s::bigint IS NULL OR d.organisation_id = %s)",
        (external_id, within, within),
        missing=NotFoundError("device", external_id),
    )


async def list_devices(
    conn: psycopg.AsyncConnection[Any],
    *,
    within: int | None,
    organisation_id: int | None = None,
    model: str | None = None,
    state: State | None = None,
    asset: str | None = None,
    after: int | None = None,
    limit: int,
) -> list[Device]:
    """Devices by id, filtered."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(
            SELECT
            + """
            WHERE (%(within)s::bigint IS NULL OR d.organisation_id = %(within)s)
              AND (%(org)s::bigint IS NULL OR d.organisation_id = %(org)s)
              AND (%(model)s::text IS NULL OR m.model = %(model)s)
              AND (%(state)s::text IS NULL OR d.state = %(state)s)
              AND (%(asset)s::text IS NULL OR s.external_id = %(asset)s)
              AND (%(after)s::bigint IS NULL OR d.id > %(after)s)
            ORDER BY d.id LIMIT %(limit)s
            """,
            {"within": within, "org": organisation_id, "model": model, "state": state, "asset": asset,
             "after": after, "limit": limit},
        )  # fmt: skip
        return await cur.fetchall()


async def _asset_id(conn: psycopg.AsyncConnection[Any], *, asset: str, organisation_id: int) -> int:
    query = "SELECT id FROM assets WHERE external_id = %s AND organisation_id = %s"
    return await fetch_id(
        conn,
        query,
        (asset, organisation_id),
        missing=InvalidReferenceError("asset", asset, "no such asset in the device's organisation"),
    )


async def create_device(
    conn: psycopg.AsyncConnection[Any],
    *,
    external_id: str,
    model_id: int,
    organisation_id: int,
    asset: str | None = None,
    firmware_version: str | None = None,
    metadata: dict[str, Any] | None = None,
    state: State = "provisioned",
    actor: Actor,
) -> tuple[Device, Credentials]:
    """A new device and its MQTT credentials (ConflictError if the external id is taken)."""
    if state not in ("provisioned", "active"):
        raise InvalidReferenceError("state", state, "a new device is provisioned or active")
    secret = new_secret()
    async with conn.transaction():
        asset_row = (
            None if asset is None else await _asset_id(conn, asset=asset, organisation_id=organisation_id)
        )
        cur = await conn.execute(
            """
            INSERT INTO devices (external_id, model_id, organisation_id, asset_id, state, firmware_version,
                                 metadata, mqtt_secret_hash, credentials_rotated_at)
            VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, now())
            ON CONFLICT (external_id) DO NOTHING RETURNING id
            """,
            (external_id, model_id, organisation_id, asset_row, state, firmware_version,
             json.dumps(metadata or {}), hash_password(secret)),
        )  # fmt: skip
        if await cur.fetchone() is None:
            raise ConflictError("device", external_id, "external id is taken")
        device = await get_device(conn, external_id=external_id, within=None)
        await record(
            conn, actor=actor, action="create", entity="device", entity_id=external_id,
            organisation_id=organisation_id,
            detail={"model": device.model, "version": device.model_version, "state": state, "asset": asset},
        )  # fmt: skip
    return device, Credentials(username=external_id, secret=secret)


async def update_device(
    conn: psycopg.AsyncConnection[Any],
    *,
    external_id: str,
    changes: dict[str, Any],
    within: int | None,
    actor: Actor,
) -> Device:
    """Change any of ``asset`` (None detaches), ``firmware_version``, ``metadata``, ``model_id``."""
    async with conn.transaction():
        device = await get_device(conn, external_id=external_id, within=within)
        values: dict[str, Any] = {}
        for field, value in changes.items():
            if field == "asset":
                values["asset_id"] = (
                    None
                    if value is None
                    else await _asset_id(conn, asset=value, organisation_id=device.organisation_id)
                )
            elif field == "metadata":
                values["metadata"] = json.dumps(value)
            elif field in ("firmware_version", "model_id"):
                values[field] = value
            else:
                raise ValueError(f"device field {field!r} cannot be changed here")
        if values:
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                for column in values
            )
            await conn.execute(
                sql.SQL("UPDATE devices SET {} WHERE id = %(id)s").format(assignments),
                {**values, "id": device.id},
            )
            await record(conn, actor=actor, action="update", entity="device", entity_id=external_id,
                         organisation_id=device.organisation_id, detail=changes)  # fmt: skip
        return await get_device(conn, external_id=external_id, within=None)


async def change_state(
    conn: psycopg.AsyncConnection[Any],
    *,
    external_id: str,
    state: State,
    reason: str = "",
    within: int | None,
    actor: Actor,
) -> Device:
    """Move a device to ``state`` if the lifecycle allows it (InvalidTransitionError otherwise)."""
    async with conn.transaction():
        device = await get_device(conn, external_id=external_id, within=within)
        # Lock the row so two concurrent changes cannot both pass the check.
        cur = await conn.execute("SELECT state FROM devices WHERE id = %s FOR UPDATE", (device.id,))
        row = await cur.fetchone()
        assert row is not None
        current: State = row[0]
        if not check_transition(external_id, current, state):
            return device
        await conn.execute("UPDATE devices SET state = %s WHERE id = %s", (state, device.id))
        action = {"active": "activate", "suspended": "suspend", "retired": "retire"}.get(state, state)
        if current == "suspended" and state == "active":
            action = "resume"
        await record(conn, actor=actor, action=action, entity="device", entity_id=external_id,
                     organisation_id=device.organisation_id,
                     detail={"from": current, "to": state, "reason": reason})  # fmt: skip
        return await get_device(conn, external_id=external_id, within=None)


async def rotate_credentials(
    conn: psycopg.AsyncConnection[Any], *, external_id: str, within: int | None, actor: Actor
) -> tuple[Device, Credentials]:
    """A new secret for the device; the old one stops working at the broker's next render."""
    secret = new_secret()
    async with conn.transaction():
        device = await get_device(conn, external_id=external_id, within=within)
        if device.state == "retired":
            raise ConflictError("device", external_id, "a retired device gets no new credentials")
        await conn.execute(
            "UPDATE devices SET mqtt_secret_hash = %s, credentials_rotated_at = clock_timestamp()"
            " WHERE id = %s",
            (hash_password(secret), device.id),
        )
        await record(conn, actor=actor, action="rotate_credentials", entity="device", entity_id=external_id,
                     organisation_id=device.organisation_id)  # fmt: skip
        return await get_device(conn, external_id=external_id, within=None), Credentials(external_id, secret)


async def delete_device(
    conn: psycopg.AsyncConnection[Any], *, external_id: str, within: int | None, actor: Actor
) -> None:
    """Delete a device that never went into service (provisioned); others are retired instead."""
    async with conn.transaction():
        device = await get_device(conn, external_id=external_id, within=within)
        if device.state != "provisioned":
            raise ConflictError(
                "device", external_id, f"it is {device.state}: only provisioned devices are deleted"
            )
        await conn.execute("DELETE FROM devices WHERE id = %s", (device.id,))
        await record(conn, actor=actor, action="delete", entity="device", entity_id=external_id,
                     organisation_id=device.organisation_id)  # fmt: skip
