"""The lock files: they agree with pyproject.toml, and a dependency added without `make lock` is caught."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import lockcheck  # noqa: E402


def _copy(tmp: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp / "pyproject.toml")
    shutil.copytree(ROOT / "requirements", tmp / "requirements")
    return tmp


def test_the_committed_locks_agree_with_pyproject() -> None:
    assert lockcheck.problems(ROOT) == []


def test_a_dependency_added_without_make_lock_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "pyproject.toml").read_text().replace('"cbor2>=5.6",', '"cbor2>=5.6",\n    "humanize>=4",')
    (root / "pyproject.toml").write_text(text)
    found = lockcheck.problems(root)
    assert "'humanize>=4' is not in requirements/runtime.lock" in found
    assert "'humanize>=4' is not in requirements/dev.lock" in found


def test_a_range_the_lock_no_longer_satisfies_is_named(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    text = (root / "pyproject.toml").read_text().replace('"paho-mqtt==2.2.0"', '"paho-mqtt==2.1.0"')
    (root / "pyproject.toml").write_text(text)
    assert any("does not accept paho-mqtt==2.2.0" in line for line in lockcheck.problems(root))


def test_runtime_and_dev_locks_must_agree(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    dev = root / "requirements" / "dev.lock"
    pinned = lockcheck.pins(root / "requirements" / "runtime.lock")["orjson"]
    dev.write_text(dev.read_text().replace(f"orjson=={pinned}", "orjson==9.9.9"))
    assert f"orjson is {pinned} in runtime.lock but 9.9.9 in dev.lock" in lockcheck.problems(root)
