"""The firmware contracts as rows: the metric catalogue into ``metrics``, models into ``device_models``.

Owns ``sync_contracts`` (idempotent upserts by metric name and by ``(model, version)``) and the
model's document form stored in ``device_models.contract``. It does not parse contract files (that is
``firmware_contracts``) and never deletes: a metric or model that disappears from the package stays,
because readings and devices refer to it.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
import psycopg

from firmware_contracts import DeviceModel, Metric, load_catalogue, load_models


def model_document(model: DeviceModel) -> dict[str, Any]:
    """The model as plain JSON data (example payloads base64-encoded, tuples as lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [plain(item) for item in value]
        return value

    document: dict[str, Any] = plain(dataclasses.asdict(model))
    return document


def sync_contracts(
    conn: psycopg.Connection[Any],
    *,
    catalogue: Mapping[str, Metric] | None = None,
    models: Mapping[tuple[str, int], DeviceModel] | None = None,
) -> None:
    """Upsert the catalogue's metrics and every device model (the package's own unless given).

    Runs in one transaction of ``conn``; running it again with the same contracts changes nothing
    but ``device_models.loaded_at`` of models whose document changed.
    """
    catalogue = load_catalogue() if catalogue is None else catalogue
    models = load_models() if models is None else models
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO metrics (name, unit, sector, min_value, max_value, description)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (name) DO UPDATE SET
                unit = EXCLUDED.unit, sector = EXCLUDED.sector, min_value = EXCLUDED.min_value,
                max_value = EXCLUDED.max_value, description = EXCLUDED.description
            WHERE (metrics.unit, metrics.sector, metrics.min_value, metrics.max_value,
                   metrics.description)
                IS DISTINCT FROM
                  (EXCLUDED.unit, EXCLUDED.sector, EXCLUDED.min_value, EXCLUDED.max_value,
                   EXCLUDED.description)
            """,
            [(m.name, m.unit, m.sector, m.min, m.max, m.description) for m in catalogue.values()],
        )
        cur.executemany(
            """
            INSERT INTO device_models (model, version, sector, contract)
            VALUES (%s, %s, %s, %s::jsonb)
            ON CONFLICT (model, version) DO UPDATE SET
                sector = EXCLUDED.sector, contract = EXCLUDED.contract, loaded_at = now()
            WHERE (device_models.sector, device_models.contract)
                IS DISTINCT FROM (EXCLUDED.sector, EXCLUDED.contract)
            """,
            [
                (model.id, model.version, model.sector, orjson.dumps(model_document(model)).decode())
                for model in models.values()
            ],
        )
