"""Devices' MQTT secrets: generated, hashed into Mosquitto's ``$7$`` format, never stored in clear.

Owns how a secret is made (``new_secret`` for one device; ``derive_secret`` for bulk onboarding, where
one random per-upload key and the device id give each device an independent secret, so a report of
100,000 secrets can be streamed after the commit without keeping or storing them) and hashing many
at once on a few threads (``hashlib.pbkdf2_hmac`` releases the GIL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from registry.mosquitto import hash_password

SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh random secret (192 bits, URL-safe text)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_upload_key() -> bytes:
    """The random key of one bulk upload: held in memory for the request, never stored."""
    return secrets.token_bytes(32)


def derive_secret(upload_key: bytes, external_id: str) -> str:
    """The secret of ``external_id`` in the upload keyed by ``upload_key`` (HMAC-SHA256, 192 bits shown)."""
    digest = hmac.new(upload_key, external_id.encode(), hashlib.sha256).digest()[:SECRET_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def hash_secrets(plain: Sequence[str], *, threads: int) -> list[str]:
    """``$7$`` hashes of ``plain``, in order, computed on ``threads`` threads."""
    if threads <= 1 or len(plain) < 64:
        return [hash_password(secret) for secret in plain]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(hash_password, plain, chunksize=max(1, len(plain) // (threads * 4))))


def device_topic(prefix: str, external_id: str) -> str:
    """The topic prefix a device may publish under (the broker's ACL grants ``<this>#``)."""
    return f"{prefix}/devices/{external_id}/"


def publish_topic(prefix: str, external_id: str) -> str:
    """The exact topic a device publishes its telemetry on (what ingest subscribes to)."""
    return f"{device_topic(prefix, external_id)}telemetry"
