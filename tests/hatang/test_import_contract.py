"""Dependencies point inward (STYLE.md §2): checked from the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the first-party packages it may import.
ALLOWED: dict[str, set[str]] = {
    "firmware_contracts": set(),
    "registry": {"firmware_contracts", "hatang.settings", "hatang.db"},
    "timeseries": {"firmware_contracts", "hatang.settings", "hatang.db"},
    "ingest": {"firmware_contracts", "hatang.settings", "hatang.db"},
    "api": {"registry", "ingest", "timeseries", "firmware_contracts", "hatang.settings", "hatang.db"},
    "simulators": {"registry", "firmware_contracts", "hatang.settings", "hatang.db"},
    "bench": {"api", "registry", "ingest", "timeseries", "firmware_contracts", "simulators", "hatang"},
}
FIRST_PARTY = {
    "firmware_contracts", "registry", "timeseries", "ingest", "api", "simulators", "bench", "hatang",
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _allowed(module: str, package: str) -> bool:
    top = module.split(".", maxsplit=1)[0]
    if top not in FIRST_PARTY or top == package:
        return True
    return any(module == ok or module.startswith(ok + ".") for ok in ALLOWED[package])


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_point_inward(package: str) -> None:
    bad = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in sorted(_imports(path))
        if not _allowed(module, package)
    ]
    assert bad == []


def test_leaf_modules_of_hatang_import_no_composition_root() -> None:
    for leaf in ("settings.py", "db.py"):
        modules = _imports(ROOT / "hatang" / leaf)
        assert not {m for m in modules if m.split(".")[0] in FIRST_PARTY - {"hatang"}}
        assert not {m for m in modules if m.startswith(("hatang.cli", "hatang.commands", "hatang.stack"))}
