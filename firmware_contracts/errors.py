"""The exceptions of ``firmware_contracts``: raised only when loading or compiling a contract.

A contract file that is wrong is a programming error of whoever wrote it, so it raises. A payload that
is wrong is expected input and never raises: :func:`firmware_contracts.normalise` returns it as a
:class:`~firmware_contracts.Rejection` instead.
"""

from __future__ import annotations


class ContractError(Exception):
    """A contract (metric catalogue or device model) is invalid.

    ``source`` names the file or model at fault, ``detail`` says what is wrong with it.
    """

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.detail = detail


class UnitError(ContractError):
    """A unit is unknown, or cannot be converted to the unit a metric is stored in."""

    def __init__(self, source: str, detail: str, *, unit: str, target: str | None = None) -> None:
        super().__init__(source, detail)
        self.unit = unit
        self.target = target
