"""The local stack really runs PostgreSQL with TimescaleDB and an authenticating Mosquitto."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from hatang.db import timescale_info
from hatang.migrate import available, migrate
from hatang.stack import SERVICE_ROLES, Stack
from registry.mosquitto import hash_password, service_user, verify_password


def test_status_reports_versions_and_edition(stack: Stack) -> None:
    report = stack.status()
    assert report["postgresql"]["version"].split(".")[0].isdigit()
    assert report["timescaledb"]["available"] is True
    assert report["timescaledb"]["edition"] in {"apache", "community"}
    assert report["timescaledb"]["license"] in {"apache", "timescale"}
    assert report["mosquitto"]["running"] is True
    assert report["mosquitto"]["version"].startswith("2.")
    # Secrets never appear in status.
    assert stack.mosquitto is not None
    for role in SERVICE_ROLES:
        assert stack.mosquitto.service_secret(role) not in str(report)


def test_migrate_twice_changes_nothing(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        assert migrate(conn) == []
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == [m.version for m in available()]
        info = timescale_info(conn)
        assert info.available
        assert info.installed
        hypertables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
        ).fetchall()
        assert ("readings",) in hypertables


def test_readings_unique_key_skips_duplicates(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        row = (("2026-01-01T00:00:00Z", 1, 1, 2.5),) * 2
        for values in row:
            conn.execute(
                "INSERT INTO readings (time, device_id, metric_id, value) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT DO NOTHING",
                values,
            )
        assert conn.execute("SELECT count(*) FROM readings").fetchone() == (1,)


def _pub(
    stack: Stack, user: str, password: str, *, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    assert stack.mosquitto is not None
    port = stack.mosquitto.service_port if port is None else port
    return subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", password,
         "-t", "city/v1/normalized/water/x", "-m", "x", "-q", "1", "-V", "mqttv5"],
        capture_output=True, text=True, timeout=10, check=False,
    )


def test_broker_requires_the_service_secret(stack: Stack) -> None:
    assert stack.mosquitto is not None
    ingest = service_user("ingest")
    assert _pub(stack, ingest, stack.mosquitto.service_secret("ingest")).returncode == 0
    refused = _pub(stack, ingest, "wrong")
    assert refused.returncode != 0
    assert "not authorized" in refused.stderr.lower()
    # Another role's secret does not open this account, and no service account logs in where devices do.
    assert _pub(stack, ingest, stack.mosquitto.service_secret("api")).returncode != 0
    device_listener = _pub(stack, ingest, stack.mosquitto.service_secret("ingest"), port=stack.mosquitto.port)
    assert device_listener.returncode != 0


def test_hash_format_matches_mosquitto_passwd(tmp_path: Path) -> None:
    """A hash from Mosquitto's own tool verifies with ours, and ours has its exact shape."""
    pwfile = tmp_path / "pw"
    pwfile.write_text("dev-1:s3cret\n")
    subprocess.run(["mosquitto_passwd", "-U", str(pwfile)], check=True, timeout=10)
    theirs = pwfile.read_text().strip().split(":", 1)[1]
    assert verify_password("s3cret", theirs)
    assert not verify_password("other", theirs)
    ours = hash_password("s3cret", salt=bytes(12))
    assert ours.startswith("$7$101$AAAAAAAAAAAAAAAA$")
    assert verify_password("s3cret", ours)
