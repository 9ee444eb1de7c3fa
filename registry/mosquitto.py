"""Mosquitto's own credential formats: ``$7$`` password hashes, the password file and the ACL file.

The registry keeps each device's hash in its database and renders these files from it; the broker
reads them at start and again on SIGHUP. Pure functions only: writing the files and signalling the
broker belong to the caller.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

# Mosquitto 2.0's mosquitto_passwd defaults: PBKDF2-HMAC-SHA512, 101 iterations, 12-byte salt.
ITERATIONS = 101
SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """A password hash in Mosquitto's ``$7$`` (PBKDF2-SHA512) format."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (constant-time compare)."""
    try:
        _, kind, iterations, salt_b64, digest_b64 = hashed.split("$")
        if kind != "7":
            return False
        salt = base64.b64decode(salt_b64, validate=True)
        expected = base64.b64decode(digest_b64, validate=True)
        actual = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """One line of the password file."""

    username: str
    password_hash: str


def render_password_file(users: Iterable[BrokerUser]) -> str:
    """The text of a Mosquitto ``password_file``."""
    return "".join(f"{user.username}:{user.password_hash}\n" for user in users)


def render_acl_file(*, topic_prefix: str, service_users: Iterable[str]) -> str:
    """The text of a Mosquitto ``acl_file``.

    Service accounts (ingest, API, simulators' operator) read and write everything; every other user
    is a device and may publish only under its own topic, ``<prefix>/devices/<username>/#``.
    """
    lines = ["# Rendered by hatang from the registry; edits are overwritten.\n"]
    for user in service_users:
        lines += [f"user {user}\n", "topic readwrite #\n", "\n"]
    lines += [
        "# Every device: its own topic only (%u is the MQTT username, i.e. the device id).\n",
        f"pattern write {topic_prefix}/devices/%u/#\n",
    ]
    return "".join(lines)
