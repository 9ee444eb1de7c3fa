"""Which devices a time-series query covers: the filters every query and stream shares.

A ``Scope`` names devices by sector, area (the area and every area under it), organisation or
device id, and carries the caller's own organisation when the caller may only see that one. It
renders as SQL conditions over ``devices d LEFT JOIN assets a LEFT JOIN device_models dm`` (the
``FROM`` of ``SCOPE_FROM``); values are always bound. A device's sector is its asset's, or its
model's while it is fitted to no asset. It holds no connection and runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from hatang.db import area_subtree

SCOPE_FROM = sql.SQL(
    "devices d LEFT JOIN assets a ON a.id = d.asset_id JOIN device_models dm ON dm.id = d.model_id"
)
SECTOR = sql.SQL("coalesce(a.sector, dm.sector)")


@dataclass(frozen=True, slots=True)
class Scope:
    """Filters on devices; ``None`` means "any". ``visible_organisation_id`` limits what a key sees."""

    sector: str | None = None
    area: str | None = None
    organisation: str | None = None
    device: str | None = None
    visible_organisation_id: int | None = None

    def conditions(self) -> tuple[sql.Composed, dict[str, Any]]:
        """``TRUE AND ...`` over the aliases of ``SCOPE_FROM``, with its bound parameters."""
        parts: list[sql.Composable] = [sql.SQL("TRUE")]
        params: dict[str, Any] = {}
        if self.sector is not None:
            parts.append(sql.SQL("{} = %(scope_sector)s").format(SECTOR))
            params["scope_sector"] = self.sector
        if self.area is not None:
            subtree = area_subtree(sql.SQL("code = %(scope_area)s"))
            parts.append(sql.SQL("a.area_id IN ({})").format(subtree))
            params["scope_area"] = self.area
        if self.organisation is not None:
            parts.append(
                sql.SQL("d.organisation_id = (SELECT id FROM organisations WHERE slug = %(scope_org)s)")
            )
            params["scope_org"] = self.organisation
        if self.device is not None:
            parts.append(sql.SQL("d.external_id = %(scope_device)s"))
            params["scope_device"] = self.device
        if self.visible_organisation_id is not None:
            parts.append(sql.SQL("d.organisation_id = %(scope_visible)s"))
            params["scope_visible"] = self.visible_organisation_id
        return sql.SQL(" AND ").join(parts), params
