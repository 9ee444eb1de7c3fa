"""docs/getting-started.md, executed: every command block of the page, in order, against the suite's
stack, so the page can never go stale.

``make run`` runs for real (in the background, its own process group) with the suite's database and
broker as external services (``HATANG_DATABASE_URL``/``HATANG_MQTT_URL``: nothing else is started),
the broker's password file kept by ``hatang run``'s own ``broker sync --watch``
(``HATANG_REGISTRY__MOSQUITTO_DIR``), no simulated fleet, and free ports. The page's documented
defaults are the only text replaced: ``8080`` (the API port), ``51883`` (the broker port) and
``.data/`` (the data directory). Blocks run in one shell state (variables exported by one block
are seen by the next); each must exit 0. Where a human would wait a moment (the banner, the broker
learning the new device, ingest committing), the test waits for that positive signal first.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from hatang.stack import Stack
from tests.plugins.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "getting-started.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    """The page's shell blocks, in order."""
    return BLOCK.findall(PAGE.read_text())


def test_the_page_has_both_languages_and_the_whole_path() -> None:
    text = PAGE.read_text()
    assert "Bắt đầu" in text
    assert "Getting started" in text
    found = blocks()
    assert found[0].strip() == "make run"
    joined = "\n".join(found)
    for step in ("/v1/organisations", "/v1/keys", "/v1/assets", '"state": "active"', "mosquitto_pub",
                 "publish_topic", "/v1/latest", "/v1/readiness"):  # fmt: skip
        assert step in joined, step


@pytest.fixture
def platform(db_url: str, stack: Stack, tmp_path: Path) -> tuple[dict[str, str], int, int]:
    """Environment, API port and broker port for the page's commands (``make run`` not yet started)."""
    assert stack.mosquitto is not None
    api_port = free_port()
    tag = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATANG_")}
    env.update({
        "HATANG_DATABASE_URL": db_url,
        # `hatang run` gives every child this one account: the ingest role's reads what devices send
        # and writes the fan-out, which is what this page checks (the live stream is not asserted).
        "HATANG_MQTT_URL": stack.mqtt_url("ingest"),
        "HATANG_REGISTRY__MOSQUITTO_DIR": str(stack.mosquitto.data_dir),
        "HATANG_STACK__DATA_DIR": str(tmp_path / "data"),
        "HATANG_API__PORT": str(api_port),
        "HATANG_INGEST__METRICS_PORT": "0",
        "HATANG_INGEST__CLIENT_ID": f"gs-{tag}",
        "HATANG_INGEST__GROUP": f"gs{tag}",
        "HATANG_INGEST__SESSION_EXPIRY_S": "0",
        "HATANG_SIMULATORS__RUN_DEVICES": "0",
        "HATANG_SIMULATORS__FLEET_FILE": str(tmp_path / "fleet.json"),
    })  # fmt: skip
    return env, api_port, stack.mosquitto.port


def _localise(block: str, api_port: int, mqtt_port: int, data_dir: str) -> str:
    return block.replace("8080", str(api_port)).replace("51883", str(mqtt_port)).replace(".data/", data_dir)


def _wait(what: str, check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_every_command_of_the_page_runs_in_order(
    platform: tuple[dict[str, str], int, int], db_url: str, stack: Stack, tmp_path: Path
) -> None:
    env, api_port, mqtt_port = platform
    assert stack.mosquitto is not None
    found = blocks()
    assert found[0].strip() == "make run"
    log = (tmp_path / "make-run.log").open("w+")
    run = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)  # fmt: skip
    work = tmp_path / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")  # the page says .venv/bin/hatang, from the clone's root
    state = tmp_path / "state.sh"
    state.write_text("")
    outputs: list[str] = []
    try:

        def banner() -> bool:
            assert run.poll() is None, Path(log.name).read_text()[-3000:]
            return "dashboard: http://127.0.0.1:" in Path(log.name).read_text()

        _wait("make run's banner", banner, timeout=240)
        text = Path(log.name).read_text()
        assert f"dashboard: http://127.0.0.1:{api_port}/" in text
        data_dir = env["HATANG_STACK__DATA_DIR"] + "/"
        for index, block in enumerate(found[1:], start=1):
            script = _localise(block, api_port, mqtt_port, data_dir)
            if "mosquitto_pub" in script:  # meanwhile a person reads the credentials: the broker learns them
                _wait("the broker's password file", lambda: "wq-bn-000123:" in _passwd(stack))
            if "/v1/latest" in script:  # ingest commits within a few hundred ms: wait for it, positively
                _wait("the reading in the database", lambda: _stored(db_url) > 0)
            done = subprocess.run(
                ["bash", "-c", f"set -euo pipefail\nsource {state}\n{script}\nexport -p > {state}"],
                cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, (index, script, done.stdout, done.stderr)
            outputs.append(done.stdout)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            try:
                run.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
                run.wait(timeout=30)
        log.close()
        # `make run`'s broker sync rendered the suite's Mosquitto for the default topic prefix only:
        # give the tests after this one their prefixes back.
        assert stack.mosquitto is not None
        stack.mosquitto.write_credentials([])
    credentials = json.loads((work / "device.json").read_text())["credentials"]
    assert credentials["publish_topic"] == "city/v1/devices/wq-bn-000123/telemetry"
    latest, readiness = outputs[-1].split("\n{", 1)[0], outputs[-1]
    assert '"water_ph"' in latest
    assert '"device": "wq-bn-000123"' in latest
    water = json.loads("{" + readiness.split("\n{", 1)[1])
    assert water["sector"] == "water"
    assert water["ready"] == 1
    assert water["essential"] == 1
    # Ctrl-C stopped everything (make itself reports the interrupt); no process had died before.
    assert run.returncode is not None
    assert " exited with " not in Path(log.name).read_text()


def _passwd(stack: Stack) -> str:
    assert stack.mosquitto is not None
    return stack.mosquitto.password_file.read_text()


def _stored(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings r JOIN devices d ON d.id = r.device_id WHERE d.external_id = %s",
            ("wq-bn-000123",),
        ).fetchone()
    return 0 if row is None else int(row[0])
