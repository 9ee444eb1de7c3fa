"""The registry: organisations, areas, assets, devices, API keys and readiness, and their storage.

Other packages use what ``__all__`` lists: the service modules the API's routers call (``areas``,
``assets``, ``audit``, ``devices``, ``keys``, ``models``, ``organisations``, ``readiness``,
``sectors``, ``zones``), and the names below for the broker's credential files, bulk onboarding and the
contracts sync. Every other module is private to the package (docs/architecture.md, "Public
surfaces").
"""

from registry import areas, assets, audit, devices, keys, models, organisations, readiness, sectors, zones
from registry.areas import area_codes_under
from registry.audit import CLI, Actor
from registry.broker import broker_users, fingerprint, newest_change
from registry.contracts import sync_contracts
from registry.credentials import derive_secret, device_topic, new_upload_key, publish_topic
from registry.devices import get_device
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidReferenceError,
    InvalidTransitionError,
    NotFoundError,
    RegistryError,
)
from registry.keys import ApiKey, authenticate, issue_stream_ticket, redeem_stream_ticket
from registry.mosquitto import (
    RESERVED_PREFIX,
    SERVICE_ROLES,
    BrokerUser,
    hash_password,
    is_reserved,
    render_device_acl,
    render_password_file,
    render_service_acl,
    service_user,
)
from registry.onboarding import BulkOutcome, Entity, UploadTooLargeError, onboard
from registry.organisations import get_organisation
from registry.uploads import ASSET_COLUMNS, DEVICE_COLUMNS, Format

__all__ = [
    "ASSET_COLUMNS",
    "CLI",
    "DEVICE_COLUMNS",
    "RESERVED_PREFIX",
    "SERVICE_ROLES",
    "Actor",
    "ApiKey",
    "BrokerUser",
    "BulkOutcome",
    "ConflictError",
    "Entity",
    "ForbiddenError",
    "Format",
    "InvalidReferenceError",
    "InvalidTransitionError",
    "NotFoundError",
    "RegistryError",
    "UploadTooLargeError",
    "area_codes_under",
    "areas",
    "assets",
    "audit",
    "authenticate",
    "broker_users",
    "derive_secret",
    "device_topic",
    "devices",
    "fingerprint",
    "get_device",
    "get_organisation",
    "hash_password",
    "is_reserved",
    "issue_stream_ticket",
    "keys",
    "models",
    "new_upload_key",
    "newest_change",
    "onboard",
    "organisations",
    "publish_topic",
    "readiness",
    "redeem_stream_ticket",
    "render_device_acl",
    "render_password_file",
    "render_service_acl",
    "sectors",
    "service_user",
    "sync_contracts",
    "zones",
]
