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
from registry.credentials import derive_secret, new_upload_key
from registry.devices import get_device
from registry.errors import (
    ConflictError,
    ForbiddenError,
    InvalidReferenceError,
    InvalidTransitionError,
    NotFoundError,
    RegistryError,
)
from registry.keys import authenticate
from registry.mosquitto import BrokerUser, hash_password, render_acl_file, render_password_file
from registry.onboarding import BulkOutcome, Entity, UploadTooLargeError, onboard
from registry.organisations import get_organisation
from registry.uploads import ASSET_COLUMNS, DEVICE_COLUMNS, Format

__all__ = [
    "ASSET_COLUMNS",
    "CLI",
    "DEVICE_COLUMNS",
    "Actor",
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
    "devices",
    "fingerprint",
    "get_device",
    "get_organisation",
    "hash_password",
    "keys",
    "models",
    "new_upload_key",
    "newest_change",
    "onboard",
    "organisations",
    "readiness",
    "render_acl_file",
    "render_password_file",
    "sectors",
    "sync_contracts",
    "zones",
]
