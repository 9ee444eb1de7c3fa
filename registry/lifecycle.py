"""The device lifecycle: which state changes are legal. Pure: no I/O.

``provisioned -> active <-> suspended -> retired``: a device is registered (provisioned, it cannot
connect yet), activated when installed, suspended and resumed as needed, and retired from suspension.
``retired`` is final. A provisioned device that never went into service is deleted, not retired.
Asking for the state a device is already in is a no-op, not an error, so retries are safe.
"""

from __future__ import annotations

from typing import Literal

from registry.errors import InvalidTransitionError

State = Literal["provisioned", "active", "suspended", "retired"]
STATES: tuple[State, ...] = ("provisioned", "active", "suspended", "retired")

TRANSITIONS: dict[State, tuple[State, ...]] = {
    "provisioned": ("active",),
    "active": ("suspended",),
    "suspended": ("active", "retired"),
    "retired": (),
}

#: States whose devices may connect to the broker (rendered into its password file).
CONNECTABLE: frozenset[State] = frozenset({"active"})


def check_transition(device: str, current: State, requested: State) -> bool:
    """Whether the change does something (False for a no-op); InvalidTransitionError if illegal."""
    if requested == current:
        return False
    if requested not in TRANSITIONS[current]:
        raise InvalidTransitionError(device, current, requested, TRANSITIONS[current])
    return True


def sources_of(requested: State) -> tuple[State, ...]:
    """The states from which ``requested`` can be reached (for set-based conditional updates)."""
    return tuple(state for state, targets in TRANSITIONS.items() if requested in targets)
