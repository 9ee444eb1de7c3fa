"""``hatang stack up`` works from any clone location: here a 0700 directory, like a clone under /root.

Run as root the server runs as ``postgres``, which cannot enter such a directory; the stack then keeps
the cluster under ``/var/lib/hatang/clusters`` (docs/operations.md). Its own free ports, so it runs
beside the suite's stack and ``make run``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.plugins.ports import free_port


@pytest.fixture
def private_clone() -> Iterator[Path]:
    """A directory of mode 0700 standing in for a clone in root's home."""
    home = Path(tempfile.mkdtemp(prefix="hatang-home-"))
    home.chmod(0o700)
    clone = home / "hatang"
    clone.mkdir()
    try:
        yield clone
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _hatang(clone: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatang.cli", *args],
        cwd=clone, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_stack_up_from_a_0700_directory(private_clone: Path) -> None:
    assert private_clone.parent.stat().st_mode & 0o777 == 0o700
    env = {k: v for k, v in os.environ.items() if not k.startswith("HATANG_")}
    env["HATANG_STACK__PG_PORT"] = str(free_port())
    env["HATANG_STACK__MQTT_PORT"] = str(free_port())
    env["HATANG_STACK__MQTT_SERVICE_PORT"] = str(free_port())  # never a default another stack may hold
    cluster: Path | None = None
    try:
        up = _hatang(private_clone, env, "stack", "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "postgresql" in up.stdout
        assert "mosquitto" in up.stdout
        status = _hatang(private_clone, env, "stack", "status", "--format", "json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        cluster = Path(report["postgresql"]["data_dir"])
        assert report["postgresql"]["running"] is True
        assert report["mosquitto"]["running"] is True
        assert report["timescaledb"]["available"] is True
        if os.geteuid() == 0:  # the postgres user cannot enter the clone: the cluster lives elsewhere
            assert not cluster.is_relative_to(private_clone)
        url = f"postgresql://hatang@127.0.0.1:{env['HATANG_STACK__PG_PORT']}/hatang"
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        down = _hatang(private_clone, env, "stack", "down")
        if cluster is not None and not cluster.is_relative_to(private_clone):
            shutil.rmtree(cluster.parent, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "postgresql" in down.stdout
