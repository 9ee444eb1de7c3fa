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

#: Usernames (and client ids) starting with this belong to the platform's own service accounts. No
#: device id may start with it: the API and bulk validation refuse it, a CHECK constraint on
#: ``devices.external_id`` (migration 0500) refuses it, and the renderers below never emit a device
#: line for it, so a device can never share a name (hence a password-file line, an ACL or a client
#: id) with a service account.
RESERVED_PREFIX = "hatang"


def is_reserved(username: str) -> bool:
    """Whether ``username`` lies in the service accounts' namespace (never a device's)."""
    return username.startswith(RESERVED_PREFIX)


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


def render_password_file(users: Iterable[BrokerUser], *, services: Iterable[BrokerUser] = ()) -> str:
    """The text of a Mosquitto ``password_file``: ``services`` first, then the device ``users``.

    A device user in the reserved namespace (``is_reserved``), one whose name holds a character the
    file format cannot carry, or a repeated name is left out: Mosquitto keeps the *last* line of a
    repeated user, so one stray line could otherwise replace a service account's secret.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for user in services:
        if not is_reserved(user.username) or user.username in seen:
            raise ValueError(f"service account {user.username!r}: unique, starting with {RESERVED_PREFIX!r}")
        seen.add(user.username)
        lines.append(f"{user.username}:{user.password_hash}\n")
    for user in users:
        name = user.username
        if is_reserved(name) or name in seen or not name or any(c in name for c in ":\n\r#+/ "):
            continue
        seen.add(name)
        lines.append(f"{name}:{user.password_hash}\n")
    return "".join(lines)


#: The platform's own broker accounts, one per role, and what each may do (``render_service_acl``).
SERVICE_ROLES = ("ingest", "api", "simulator")


def service_user(role: str) -> str:
    """The broker username of a service role (``hatang-ingest``, ...): always in the reserved namespace."""
    if role not in SERVICE_ROLES:
        raise ValueError(f"unknown service role {role!r}")
    return f"{RESERVED_PREFIX}-{role}"


def render_device_acl(*, topic_prefixes: Iterable[str], mount: str = "") -> str:
    """The ``acl_file`` of the device listener: each device may publish to its own telemetry topic only.

    ``%u`` is the MQTT username, i.e. the device id. The listener's ``mount_point`` (``mount``) is
    prepended to every topic a device names before this check, hence it is part of the pattern. There
    is no read or subscribe right: deliveries to a device are refused, and a subscription a device makes
    lives under the mount point, where nothing but device telemetry is ever published.
    """
    lines = ["# Rendered by hatang from the registry; edits are overwritten.\n",
             "# Every device: its own telemetry topic only (%u is the MQTT username, i.e. the device id).\n"]
    for prefix in topic_prefixes:
        lines.append(f"pattern write {mount}{prefix}/devices/%u/telemetry\n")
    return "".join(lines)


def render_service_acl(*, topic_prefixes: Iterable[str], mount: str = "") -> str:
    """The ``acl_file`` of the service listener: each role reads and writes only what it needs.

    ``hatang-ingest`` reads device telemetry and writes the normalised fan-out; ``hatang-api`` reads
    the fan-out (its stream feed); ``hatang-simulator`` writes telemetry (a load generator injecting
    traffic and faults, such as unknown devices) and reads the fan-out to measure latency.
    """
    prefixes = list(topic_prefixes)
    rights = {
        "ingest": [("read", f"{mount}{{p}}/devices/+/telemetry"), ("write", "{p}/normalized/#")],
        "api": [("read", "{p}/normalized/#")],
        "simulator": [("write", f"{mount}{{p}}/devices/+/telemetry"), ("read", "{p}/normalized/#")],
    }
    lines = ["# Rendered by hatang; edits are overwritten.\n"]
    for role in SERVICE_ROLES:
        lines.append(f"user {service_user(role)}\n")
        for access, pattern in rights[role]:
            lines += [f"topic {access} {pattern.format(p=prefix)}\n" for prefix in prefixes]
        lines.append("\n")
    return "".join(lines)
