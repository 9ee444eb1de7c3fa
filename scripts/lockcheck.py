"""Fail loudly when pyproject.toml asks for something the lock files do not pin (run by scripts/setup.sh).

Every requirement of pyproject.toml (dependencies, the dev extra, the build system) must be pinned
in its lock file at a version its specifier accepts; the runtime and dev locks must agree on every
version they share. A failure names each mismatch and the one command that fixes it: ``make lock``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    """``name -> version`` of every package a lock file pins."""
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def problems(root: Path = ROOT) -> list[str]:
    """Every way the lock files disagree with pyproject.toml (empty: they agree)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    locks = {name: root / "requirements" / f"{name}.lock" for name in ("runtime", "dev", "build")}
    missing = [f"{path.relative_to(root)} is missing" for path in locks.values() if not path.exists()]
    if missing:
        return missing
    pinned = {name: pins(path) for name, path in locks.items()}
    wanted = {
        "runtime": project["project"]["dependencies"],
        "dev": project["project"]["dependencies"] + project["project"]["optional-dependencies"]["dev"],
        "build": project["build-system"]["requires"],
    }
    found: list[str] = []
    for lock, requirements in wanted.items():
        for text in requirements:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate():
                continue
            version = pinned[lock].get(canonicalize_name(req.name))
            if version is None:
                found.append(f"{text!r} is not in requirements/{lock}.lock")
            elif not req.specifier.contains(version, prereleases=True):
                found.append(f"{text!r} does not accept {req.name}=={version} in requirements/{lock}.lock")
    for name, version in pinned["runtime"].items():
        if pinned["dev"].get(name, version) != version:
            found.append(f"{name} is {version} in runtime.lock but {pinned['dev'][name]} in dev.lock")
    return found


def main() -> int:
    """Print the mismatches and exit 1 if there are any."""
    found = problems()
    for line in found:
        print(f"lockcheck: {line}", file=sys.stderr)
    if found:
        print("lockcheck: pyproject.toml and requirements/*.lock disagree: run `make lock`, commit the "
              "lock files, then `make test`", file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
