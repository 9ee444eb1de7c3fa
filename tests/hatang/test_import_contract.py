"""Dependencies point inward, through public surfaces only (docs/architecture.md, "Public surfaces").

Checked from the source, not by convention:
- **Layers**: api -> {registry, ingest, timeseries} -> firmware_contracts, with ``hatang`` as the
  composition root (its leaf modules ``hatang.settings`` and ``hatang.db`` may be imported by all).
- **Public surfaces**: a package's public surface is its ``__init__``'s ``__all__``: names, and
  modules or subpackages listed there (whose own names are public unless they start with ``_``; a
  listed subpackage's surface is its own ``__all__``). Another package imports nothing else.
- **Dynamic imports**: ``importlib.import_module`` calls count as imports; each must be resolvable
  here (an f-string over a module-level tuple of names), so a loader cannot hide an arrow.
Tests are exempt: they mirror the packages and may reach inside them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> the first-party packages (or leaf modules) it may import.
LEAVES = {"hatang.settings", "hatang.db"}
ALLOWED: dict[str, set[str]] = {
    "firmware_contracts": set(),
    "registry": {"firmware_contracts", *LEAVES},
    "timeseries": {"firmware_contracts", *LEAVES},
    "ingest": {"firmware_contracts", *LEAVES},
    "alerts": {"registry", "ingest", "firmware_contracts", *LEAVES},
    "api": {"alerts", "registry", "ingest", "timeseries", "firmware_contracts", *LEAVES},
    "simulators": {"registry", "firmware_contracts", *LEAVES},
    "bench": {
        "alerts", "api", "registry", "ingest", "timeseries", "firmware_contracts", "simulators", "hatang",
    },
    "hatang": {
        "alerts", "api", "registry", "ingest", "timeseries", "firmware_contracts", "simulators", "bench",
    },
}
FIRST_PARTY = set(ALLOWED)


def _dynamic(tree: ast.Module, path: Path) -> Iterator[str]:
    """Modules named by ``importlib.import_module(f"prefix.{name}")`` over a module-level tuple."""
    tuples = {
        target.id: [str(elt.value) for elt in node.value.elts if isinstance(elt, ast.Constant)]
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Tuple)
        for target in ([node.target] if isinstance(node, ast.AnnAssign) else node.targets)
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
        ):
            continue
        arg = node.args[0] if node.args else None
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            yield arg.value
            continue
        loops = [n for n in ast.walk(tree) if isinstance(n, ast.For | ast.comprehension)]
        resolved = False
        if isinstance(arg, ast.JoinedStr) and len(arg.values) == 2:
            prefix, field = arg.values
            if isinstance(prefix, ast.Constant) and isinstance(field, ast.FormattedValue):
                head = str(prefix.value)
                for loop in loops:
                    if (
                        isinstance(loop.target, ast.Name)
                        and isinstance(field.value, ast.Name)
                        and loop.target.id == field.value.id
                        and isinstance(loop.iter, ast.Name)
                        and loop.iter.id in tuples
                    ):
                        yield from (head + name for name in tuples[loop.iter.id])
                        resolved = True
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        assert resolved, f"{where}: an import_module call this test cannot resolve"


@cache
def _imports(path: Path) -> frozenset[tuple[str, str | None]]:
    """``(module, name)`` per import: ``name`` is None for ``import module``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update((node.module, alias.name) for alias in node.names)
    found.update((module, None) for module in _dynamic(tree, path))
    return frozenset(found)


@cache
def _all(package: str) -> frozenset[str] | None:
    """The ``__all__`` of package ``package`` (dotted), or None when it is a module, not a package."""
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    if not init.exists():
        return None
    for node in ast.parse(init.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            assert isinstance(node, ast.Assign)
            assert isinstance(node.value, ast.List | ast.Tuple)
            return frozenset(str(e.value) for e in node.value.elts if isinstance(e, ast.Constant))
    return frozenset()


def _public(module: str, name: str | None) -> bool:
    """Whether ``from module import name`` (or ``import module``) stays on public surfaces."""
    parts = module.split(".")
    for depth in range(1, len(parts)):
        surface = _all(".".join(parts[:depth]))
        if surface is None:  # inside a public module: its own names
            return not parts[depth].startswith("_")
        if parts[depth] not in surface:
            return False
    if name is None:
        return True
    surface = _all(module)
    return not name.startswith("_") if surface is None else name in surface


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _violations(package: str) -> Iterator[str]:
    for path in _sources(package):
        for module, name in sorted(_imports(path), key=str):
            top = module.split(".", maxsplit=1)[0]
            if top not in FIRST_PARTY or top == package:
                continue
            where = f"{path.relative_to(ROOT)} imports {module}" + (f".{name}" if name else "")
            if not any(module == ok or module.startswith(ok + ".") for ok in ALLOWED[package]):
                yield f"{where}: {package} may not depend on {top}"
            elif module not in LEAVES and not _public(module, name):
                yield f"{where}: not on {top}'s public surface"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_point_inward_through_public_surfaces(package: str) -> None:
    assert list(_violations(package)) == []


def test_the_loaders_are_seen() -> None:
    loaders = {"hatang/cli.py": "hatang.commands.bench", "hatang/commands/bench.py": "bench.ingest",
               "api/app.py": "api.routers.streams"}  # fmt: skip
    for path, module in loaders.items():
        assert (module, None) in _imports(ROOT / path), path


def test_a_private_import_is_caught() -> None:
    assert not _public("ingest.sink", "Sink")  # a module ingest does not list
    assert not _public("registry", "_parent_id")
    assert not _public("registry.readiness.queries", "Gap")  # listed by readiness, not its module
    assert _public("registry.readiness", "Gap")
    assert _public("registry.keys", "create_key")  # keys is a public module of registry
    assert not _public("registry.keys", "_hash")


def test_leaf_modules_of_hatang_import_no_composition_root() -> None:
    for leaf in ("settings.py", "db.py"):
        modules = {module for module, _ in _imports(ROOT / "hatang" / leaf)}
        assert not {m for m in modules if m.split(".")[0] in FIRST_PARTY - {"hatang"}}
        assert not {m for m in modules if m.startswith(("hatang.cli", "hatang.commands", "hatang.stack"))}
