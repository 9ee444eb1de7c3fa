"""``/v1/devices``: sensors, their state and MQTT credentials. Admins see and change all; operators
their own organisation's; viewers read their own organisation's. Secrets appear in the responses of
creation and rotation only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Principal, Reader, Writer
from api.db import Conn
from api.fields import ASSET_ID, DEVICE_ID, SLUG, Metadata, NewDeviceId, Text
from api.pagination import Page, Paging, page
from api.problems import COMMON, responses
from firmware_contracts.vocabulary import MODEL
from registry import devices as service
from registry import publish_topic
from registry.models import resolve_model

router = APIRouter(prefix="/v1/devices", tags=["devices"])

State = Literal["provisioned", "active", "suspended", "retired"]
DevicePath = Annotated[str, Path(pattern=DEVICE_ID, max_length=64, description="The device's external id.")]


class DeviceCreate(BaseModel):
    """A new device of ``model`` (newest version unless ``model_version``), owned by ``organisation``
    (default: the caller's), optionally fitted to ``asset`` (of the same organisation)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "external_id": "wq-bn-000123",
                    "model": "sonde-wq6",
                    "organisation": "bn-water",
                    "asset": "ps-tien-du-01",
                    "state": "active",
                }
            ]
        },
    )

    external_id: NewDeviceId = Field(
        pattern=DEVICE_ID, max_length=64,
        description="Stable id; also the MQTT username and client id. "
        "Ids starting with `hatang` are reserved.",
    )
    model: str = Field(pattern=MODEL, max_length=100)
    model_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    organisation: str | None = Field(default=None, pattern=SLUG, max_length=63)
    asset: str | None = Field(default=None, pattern=ASSET_ID, max_length=128)
    firmware_version: Text | None = Field(default=None, max_length=100)
    metadata: Metadata = Field(default_factory=dict)
    state: Literal["provisioned", "active"] = Field(
        default="provisioned",
        description="`active` lets it connect at once; `provisioned` waits for activation.",
    )


class DeviceUpdate(BaseModel):
    """Fields to change; ``asset: null`` detaches the device from its asset."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"firmware_version": "2.4.1"}]})

    asset: str | None = Field(default=None, pattern=ASSET_ID, max_length=128)
    firmware_version: Text | None = Field(default=None, max_length=100)
    metadata: Metadata | None = None
    model_version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="Move to another version."
    )


class StateChange(BaseModel):
    """The state to move to, and why (kept in the audit trail)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"state": "suspended", "reason": "theft"}]}
    )

    state: State
    reason: Text = Field(default="", max_length=500)


class DevicePublic(BaseModel):
    """A device (never its secret)."""

    model_config = ConfigDict(from_attributes=True)

    external_id: str
    model: str
    model_version: int
    organisation: str
    asset: str | None
    state: State
    firmware_version: str | None
    metadata: dict[str, Any]
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime
    credentials_rotated_at: datetime | None


class MqttCredentials(BaseModel):
    """MQTT credentials: shown once. The device connects with ``username`` as its username and client
    id, and publishes its readings to ``topic`` (the same as ``publish_topic``)."""

    username: str
    secret: str = Field(description="Not retrievable later; rotate to get a new one.")
    topic: str = Field(
        description="The one topic this device may publish to (its telemetry); the broker refuses any other "
        "(MQTT 5 reason code 135)."
    )
    publish_topic: str = Field(description="The exact topic to publish readings on (the same as `topic`).")


class DeviceCreated(DevicePublic):
    """A new device and its credentials."""

    credentials: MqttCredentials


def _public(row: service.Device) -> DevicePublic:
    return DevicePublic.model_validate(row)


def _credentials(request: Request, issued: service.Credentials) -> MqttCredentials:
    prefix = request.app.state.settings.topic_prefix
    return MqttCredentials(
        username=issued.username,
        secret=issued.secret,
        topic=publish_topic(prefix, issued.username),
        publish_topic=publish_topic(prefix, issued.username),
    )


async def _writable(conn: Conn, principal: Principal, external_id: str) -> service.Device:
    """The device ``external_id`` if ``principal`` may change it (404 outside its sight, else 403)."""
    device = await service.get_device(conn, external_id=external_id, within=principal.within)
    principal.check_write(device.organisation_id)
    return device


@router.get("", summary="List devices", responses=responses(*COMMON, "invalid-cursor", "not-found"))
async def list_devices(
    *,
    principal: Reader,
    conn: Conn,
    params: Paging,
    organisation: Annotated[str | None, Query(pattern=SLUG, max_length=63)] = None,
    model: Annotated[str | None, Query(pattern=MODEL, max_length=100)] = None,
    state: State | None = None,
    asset: Annotated[str | None, Query(pattern=ASSET_ID, max_length=128)] = None,
) -> Page[DevicePublic]:
    org_id = await principal.organisation_filter(conn, organisation)
    rows = await service.list_devices(
        conn, within=principal.within, organisation_id=org_id, model=model, state=state, asset=asset,
        after=params.after, limit=params.fetch,
    )  # fmt: skip
    return page(rows, params, key=lambda r: r.id, convert=_public)


@router.post(
    "", status_code=201, summary="Register a device and issue its MQTT credentials",
    responses=responses(*COMMON, "not-found", "conflict", "invalid-reference"),
)  # fmt: skip
async def create_device(body: DeviceCreate, request: Request, principal: Writer, conn: Conn) -> DeviceCreated:
    org = await principal.owner(conn, body.organisation)
    model_id = await resolve_model(conn, model=body.model, version=body.model_version)
    device, issued = await service.create_device(
        conn, external_id=body.external_id, model_id=model_id, organisation_id=org.id, asset=body.asset,
        firmware_version=body.firmware_version, metadata=body.metadata, state=body.state,
        actor=principal.actor,
    )  # fmt: skip
    return DeviceCreated(**_public(device).model_dump(), credentials=_credentials(request, issued))


@router.get("/{external_id}", summary="Read a device", responses=responses(*COMMON, "not-found"))
async def get_device(external_id: DevicePath, principal: Reader, conn: Conn) -> DevicePublic:
    return _public(await service.get_device(conn, external_id=external_id, within=principal.within))


@router.patch(
    "/{external_id}",
    summary="Change a device",
    responses=responses(*COMMON, "not-found", "invalid-reference"),
)
async def update_device(
    external_id: DevicePath, body: DeviceUpdate, principal: Writer, conn: Conn
) -> DevicePublic:
    device = await _writable(conn, principal, external_id)
    changes = body.model_dump(exclude_unset=True)
    if "model_version" in changes:
        version = changes.pop("model_version")
        if version is not None:
            changes["model_id"] = await resolve_model(conn, model=device.model, version=version)
    if changes.get("metadata", {}) is None:
        del changes["metadata"]
    row = await service.update_device(conn, external_id=external_id, changes=changes, within=principal.within,
                                      actor=principal.actor)  # fmt: skip
    return _public(row)


@router.post(
    "/{external_id}/state", summary="Move a device along its lifecycle",
    description="provisioned → active ⇄ suspended → retired; any other change is a 409 `invalid-transition`.",
    responses=responses(*COMMON, "not-found", "invalid-transition"),
)  # fmt: skip
async def change_state(
    external_id: DevicePath, body: StateChange, principal: Writer, conn: Conn
) -> DevicePublic:
    await _writable(conn, principal, external_id)
    row = await service.change_state(conn, external_id=external_id, state=body.state, reason=body.reason,
                                     within=principal.within, actor=principal.actor)  # fmt: skip
    return _public(row)


@router.post(
    "/{external_id}/credentials", summary="Rotate a device's MQTT secret (the old one stops working)",
    responses=responses(*COMMON, "not-found", "conflict"),
)  # fmt: skip
async def rotate_credentials(
    external_id: DevicePath, request: Request, principal: Writer, conn: Conn
) -> MqttCredentials:
    await _writable(conn, principal, external_id)
    _, issued = await service.rotate_credentials(conn, external_id=external_id, within=principal.within,
                                                 actor=principal.actor)  # fmt: skip
    return _credentials(request, issued)


@router.delete(
    "/{external_id}", status_code=204, summary="Delete a device that never went into service",
    description="Only `provisioned` devices are deleted; a device that was in service is retired instead.",
    responses=responses(*COMMON, "not-found", "conflict"),
)  # fmt: skip
async def delete_device(external_id: DevicePath, principal: Writer, conn: Conn) -> Response:
    await _writable(conn, principal, external_id)
    await service.delete_device(conn, external_id=external_id, within=principal.within, actor=principal.actor)
    return Response(status_code=204)
