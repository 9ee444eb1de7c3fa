"""The registry's exceptions: one base, a few subclasses carrying what went wrong as fields.

Raised by the registry's service functions for requests that cannot be carried out (unknown
entity, taken id, illegal state change, a reference to something that does not exist). Only the API
turns them into HTTP problems; the registry knows nothing of status codes.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every registry error."""


class NotFoundError(RegistryError):
    """No ``entity`` with this ``key`` (or none the caller may see)."""

    def __init__(self, entity: str, key: str) -> None:
        super().__init__(f"no {entity} {key!r}")
        self.entity = entity
        self.key = key


class ConflictError(RegistryError):
    """The change clashes with existing data: a taken id, or an entity still in use."""

    def __init__(self, entity: str, key: str, reason: str) -> None:
        super().__init__(f"{entity} {key!r}: {reason}")
        self.entity = entity
        self.key = key
        self.reason = reason


class InvalidTransitionError(RegistryError):
    """A device state change the lifecycle does not allow."""

    def __init__(self, device: str, current: str, requested: str, allowed: tuple[str, ...]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"device {device!r} is {current}: cannot become {requested} (allowed: {allowed_text})"
        )
        self.device = device
        self.current = current
        self.requested = requested
        self.allowed = allowed


class InvalidReferenceError(RegistryError):
    """A field names something that does not exist (an area code, an asset, a device model)."""

    def __init__(self, field: str, value: str, reason: str) -> None:
        super().__init__(f"{field} {value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class ForbiddenError(RegistryError):
    """The caller may see this entity but not make this change (e.g. write another organisation's)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
