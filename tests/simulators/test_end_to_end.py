"""A fleet made through the API, published with the devices' own credentials, landed by a real ingest
worker: nothing lost, nothing doubled, every injected fault counted as its dead-letter reason."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from firmware_contracts import Limits, load_models
from hatang.stack import Stack
from registry.broker import broker_users
from simulators.fleet import Fleet, create_fleet, load_fleet, save_fleet
from simulators.load import LoadSpec
from simulators.messages import FaultPlan
from simulators.publisher import BrokerAddress, parse_url
from simulators.report import render, run_checked
from tests.plugins.api import Keys
from tests.plugins.ingest import DEVICE_MOUNT, Workers

# The suite's broker renders its device ACL for the default prefix: devices may publish only there.
PREFIX = "city/v1"


class ClientHttp:
    """The fleet's HTTP port over the in-process API client."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers

    def request(
        self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None
    ) -> tuple[int, bytes]:
        headers = dict(self._headers)
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self._client.request(method, path, content=body, headers=headers)
        return response.status_code, response.content


@pytest.fixture
def fleet(api_client: TestClient, keys: Keys, db_url: str, stack: Stack, tmp_path: Path) -> Fleet:
    """18 devices (two of each model) made through the API, known to the broker."""
    http = ClientHttp(api_client, keys["admin"])
    models = list(load_models().values())
    made = create_fleet(http, devices=18, seed=11, models=models)
    path = tmp_path / "fleet.json"
    save_fleet(made, path)
    assert path.stat().st_mode & 0o777 == 0o600
    # Idempotent: again, with the credentials file, nothing changes; without it, secrets rotate.
    again = create_fleet(http, devices=18, seed=11, models=models, known=load_fleet(path))
    assert again == made
    rotated = create_fleet(http, devices=18, seed=11, models=models)
    assert [d.external_id for d in rotated.devices] == [d.external_id for d in made.devices]
    assert all(a.secret != b.secret for a, b in zip(rotated.devices, made.devices, strict=True))
    assert stack.mosquitto is not None
    with psycopg.connect(db_url) as conn:
        stack.mosquitto.write_credentials(broker_users(conn))
    return rotated


def _spec(fleet: Fleet, stack: Stack, *, faults: FaultPlan, qos: int, pack: int, rate: float) -> LoadSpec:
    service = parse_url(stack.mqtt_url("simulator"))
    device = parse_url(stack.device_url)
    return LoadSpec(
        devices=fleet.devices, broker=BrokerAddress(device.host, device.port), topic_prefix=PREFIX,
        rate=rate, duration_s=3.0, processes=2, qos=qos, pack=pack, faults=faults, seed=5,
        run_id="e2e" + str(qos) + str(pack), limits=Limits(), service=service, device_mount=DEVICE_MOUNT,
    )  # fmt: skip


@pytest.mark.timeout(180)
def test_fault_run_counts_each_class_exactly(fleet: Fleet, stack: Stack, db_url: str, tmp_path: Path) -> None:
    workers = Workers(stack=stack, db_url=db_url, prefix=PREFIX, tmp=tmp_path)
    try:
        workers.start()
        faults = FaultPlan(malformed=0.05, unknown_device=0.05, out_of_range=0.05, clock_skew=0.05,
                           duplicate=0.1, silent=0.2)  # fmt: skip
        spec = _spec(fleet, stack, faults=faults, qos=1, pack=1, rate=300)
        listen = parse_url(stack.mqtt_url("simulator"))
        summary = run_checked(spec, database_url=db_url, listen=listen, settle_quiet_s=10)
        print(render(summary))
        print(json.dumps(summary))
        assert summary["ok"], summary
        assert summary["lost"] == 0
        assert summary["duplicated"] == 0
        assert summary["messages_unacked"] == 0
        injected = summary["faults_injected"]
        dead = summary["dead_letters"]
        assert dead == summary["dead_letters_expected"]
        assert set(dead) == {"malformed", "unknown_device", "out_of_range", "time_in_future"}
        assert dead["malformed"] == injected["malformed"]
        assert dead["unknown_device"] == injected["unknown_device"]
        assert dead["out_of_range"] == injected["out_of_range"]
        assert dead["time_in_future"] == injected["clock_skew"]
        assert injected["duplicate"] > 0
        assert summary["silent_devices"] > 0
        assert summary["readings_landed"] == summary["readings_published"] > 0
        assert summary["latency_samples"] > 0
    finally:
        workers.stop_all()


@pytest.mark.timeout(180)
def test_senml_packs_at_qos0_land_exactly(fleet: Fleet, stack: Stack, db_url: str, tmp_path: Path) -> None:
    workers = Workers(stack=stack, db_url=db_url, prefix=PREFIX, tmp=tmp_path)
    try:
        workers.start()
        spec = _spec(fleet, stack, faults=FaultPlan(), qos=0, pack=25, rate=100)
        summary = run_checked(spec, database_url=db_url, listen=None, settle_quiet_s=10)
        assert summary["ok"], summary
        assert summary["readings_published"] == summary["messages_sent"] * 25
        assert summary["readings_landed"] == summary["readings_published"]
        assert summary["dead_letters"] == {}
    finally:
        workers.stop_all()
