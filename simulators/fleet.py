"""Simulated fleets: assets and devices created through the registry API, credentials kept locally.

Owns :class:`Fleet`, :func:`plan_fleet` (pure: which assets and devices a seed and a size mean),
:func:`create_fleet` (bulk uploads over the API through an :class:`Http` port; idempotent: devices
that exist already keep the secret the credentials file holds, or get a rotated one),
:class:`UrllibHttp` (that port over the standard library) and :func:`save_fleet`/:func:`load_fleet`
(the credentials file, mode 0600). It must not talk to the database or the broker directly.
"""

from __future__ import annotations

import json
import os
import random
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from firmware_contracts import DeviceModel
from simulators.errors import FleetError
from simulators.messages import SimDevice

# What a device of each shipped model is mounted on (asset kinds are free text in the registry).
ASSET_KINDS: dict[str, str] = {
    "loopcount-il200": "intersection",
    "radarspeed-rs350": "road_segment",
    "meter3p-em340": "lv_feeder",
    "meter1p-em115": "service_connection",
    "xfmr-tm100": "distribution_transformer",
    "pvinv-sg50": "rooftop_pv",
    "magflow-mf500": "dma_inlet",
    "pressurelog-pl20": "hydrant",
    "sonde-wq6": "service_reservoir",
    "slc-n10": "streetlight",
}
# Bắc Ninh province (2023 boundary), roughly: where simulated assets are placed.
_LAT, _LON = (21.0, 21.25), (105.93, 106.3)


class Http(Protocol):
    """The registry API as the fleet needs it: one request, its status and body."""

    def request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        """Send one request; return the status code and the whole body."""
        ...


@dataclass(frozen=True, slots=True)
class UrllibHttp:
    """:class:`Http` over ``urllib`` with a bearer key (no extra dependency for one bulk upload)."""

    base_url: str
    token: str
    timeout_s: float = 600.0

    def request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        """Send one request; return the status code and the whole body."""
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        url = self.base_url.rstrip("/") + path
        if not url.startswith(("http://", "https://")):
            raise FleetError(f"not an http(s) URL: {url}")
        req = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise FleetError(f"cannot reach the API at {self.base_url}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Fleet:
    """A simulated fleet: the seed that made it and its devices with their secrets."""

    seed: int
    devices: tuple[SimDevice, ...]


def device_id(seed: int, index: int) -> str:
    """The external id of the fleet's ``index``-th device (also its MQTT username)."""
    return f"sim{seed}-{index:06d}"


def plan_fleet(
    *, devices: int, seed: int, models: Sequence[DeviceModel], areas: Sequence[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The asset rows and device rows (NDJSON objects) of a fleet: one asset per device.

    Models take turns (so every sector is present from nine devices up); areas and positions are
    drawn from the seed.
    """
    if not models or not areas:
        raise FleetError("a fleet needs at least one device model and one area")
    rng = random.Random(seed)
    ordered = sorted(models, key=lambda m: m.key)
    assets, rows = [], []
    for i in range(devices):
        model = ordered[i % len(ordered)]
        ext = device_id(seed, i)
        asset = f"{ext}-site"
        assets.append({
            "external_id": asset, "area": areas[rng.randrange(len(areas))], "sector": model.sector,
            "kind": ASSET_KINDS.get(model.id, "sensor_site"), "name": f"Simulated {model.id} #{i}",
            "lat": round(rng.uniform(*_LAT), 6), "lon": round(rng.uniform(*_LON), 6),
            "metadata": {"simulated": True, "seed": seed}, "demo": True,
        })  # fmt: skip
        rows.append({
            "external_id": ext, "model": model.id, "model_version": model.version, "asset": asset,
            "state": "active", "firmware_version": "sim-1", "metadata": {"simulated": True, "seed": seed},
        })  # fmt: skip
    return assets, rows


def _ndjson(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)


def _bulk(http: Http, entity: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    status, body = http.request("POST", f"/v1/bulk/{entity}", body=_ndjson(rows),
                                content_type="application/x-ndjson")  # fmt: skip
    if status != 200:
        raise FleetError(f"bulk {entity} upload refused ({status}): {body[:500]!r}", status=status)
    lines = [json.loads(line) for line in body.splitlines() if line.strip()]
    failed = [line for line in lines[1:] if line.get("status") == "failed"]
    if failed:
        raise FleetError(f"{len(failed)} {entity} rows failed, e.g. {failed[0]}", status=status)
    return lines[1:]


def _areas(http: Http) -> list[str]:
    status, body = http.request("GET", "/v1/areas?level=district&limit=500")
    if status != 200:
        raise FleetError(f"cannot list areas ({status}): {body[:300]!r}", status=status)
    codes = [item["code"] for item in json.loads(body)["items"] if item.get("retired_at") is None]
    if not codes:
        raise FleetError("the registry has no district-level areas: run `hatang seed` first")
    return codes


def create_fleet(
    http: Http, *, devices: int, seed: int, models: Sequence[DeviceModel], known: Fleet | None = None
) -> Fleet:
    """Create (or complete) a fleet of ``devices`` through the API and return it with every secret.

    Devices the API reports as existing keep the secret ``known`` holds for them; any other
    existing device gets its secret rotated (the only way to learn one again).
    """
    assets, rows = plan_fleet(devices=devices, seed=seed, models=models, areas=_areas(http))
    _bulk(http, "assets", assets)
    report = {line["external_id"]: line for line in _bulk(http, "devices", rows)}
    secrets = {d.external_id: d.secret for d in known.devices} if known and known.seed == seed else {}
    result = []
    for row in rows:
        ext = row["external_id"]
        line = report.get(ext, {})
        if line.get("status") == "created":
            secret = line["mqtt_secret"]
        elif ext in secrets:
            secret = secrets[ext]
        else:
            status, body = http.request("POST", f"/v1/devices/{ext}/credentials")
            if status != 200:
                raise FleetError(f"cannot rotate {ext}'s secret ({status}): {body[:300]!r}", status=status)
            secret = json.loads(body)["secret"]
        result.append(SimDevice(ext, secret, (row["model"], row["model_version"])))
    return Fleet(seed=seed, devices=tuple(result))


def save_fleet(fleet: Fleet, path: Path) -> None:
    """Write the credentials file (mode 0600, replaced atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "seed": fleet.seed,
        "devices": [{"external_id": d.external_id, "secret": d.secret, "model": d.model[0],
                     "model_version": d.model[1]} for d in fleet.devices],
    }  # fmt: skip
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(doc, handle)
    tmp.replace(path)


def load_fleet(path: Path) -> Fleet | None:
    """The fleet in the credentials file, or None when there is none."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise FleetError(f"unreadable credentials file {path}: {exc}") from exc
    devices = tuple(SimDevice(d["external_id"], d["secret"], (d["model"], int(d["model_version"])))
                    for d in doc["devices"])  # fmt: skip
    return Fleet(seed=int(doc["seed"]), devices=devices)
