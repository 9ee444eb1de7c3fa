"""The exceptions of readiness: one base, one subclass per failure, each carrying its data.

``ReadinessError`` is a ``RegistryError`` and each failure also subclasses the registry's matching
kind (not found, conflict, invalid reference), so the API's registry handlers render them as the
right problem without knowing readiness. Only ``api`` turns them into HTTP; the command line
prints them.
"""

from __future__ import annotations

from datetime import date

from registry.errors import ConflictError, InvalidReferenceError, NotFoundError, RegistryError


class ReadinessError(RegistryError):
    """Base of every readiness error."""


class InvalidCountsError(ReadinessError, ValueError):
    """Counts that cannot be: ready <= equipped <= essential, none negative."""

    def __init__(self, *, essential: int, equipped: int, ready: int) -> None:
        super().__init__(
            f"impossible readiness counts: essential={essential} equipped={equipped} ready={ready}"
        )
        self.essential = essential
        self.equipped = equipped
        self.ready = ready


class UnknownAreaError(ReadinessError, NotFoundError):
    """No area has this code."""

    def __init__(self, code: str) -> None:
        NotFoundError.__init__(self, "area", code)
        self.code = code


class UnknownOrganisationError(ReadinessError, NotFoundError):
    """No organisation has this slug."""

    def __init__(self, slug: str) -> None:
        NotFoundError.__init__(self, "organisation", slug)
        self.slug = slug


class FutureDateError(ReadinessError, InvalidReferenceError):
    """Readiness was asked for a day that has not come yet."""

    def __init__(self, day: date, *, today: date) -> None:
        InvalidReferenceError.__init__(self, "at", day.isoformat(), f"is after today ({today.isoformat()})")
        self.day = day
        self.today = today


class SnapshotMissingError(ReadinessError, NotFoundError):
    """No snapshot was taken on a past day, so its figures are not known."""

    def __init__(self, day: date, *, area: str | None, organisation: str | None) -> None:
        NotFoundError.__init__(self, "readiness snapshot", day.isoformat())
        self.day = day
        self.area = area
        self.organisation = organisation


class TargetExistsError(ReadinessError, ConflictError):
    """A target for this sector and deadline is already recorded (update it instead)."""

    def __init__(self, sector: str, deadline: date) -> None:
        ConflictError.__init__(
            self, "readiness target", f"{sector}/{deadline.isoformat()}", "already exists; update it instead"
        )
        self.sector = sector
        self.deadline = deadline


class TargetNotFoundError(ReadinessError, NotFoundError):
    """No target for this sector and deadline."""

    def __init__(self, sector: str, deadline: date) -> None:
        NotFoundError.__init__(self, "readiness target", f"{sector}/{deadline.isoformat()}")
        self.sector = sector
        self.deadline = deadline
