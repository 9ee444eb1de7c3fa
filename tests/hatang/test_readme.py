"""The README stays true: its two commands, and every setting with its real default."""

from __future__ import annotations

from pathlib import Path

from hatang.commands.settings import variables
from hatang.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert [line for line in first_block.splitlines()[1:] if line.strip()] == ["make run", "make test"]


def test_readme_lists_every_setting_with_its_default() -> None:
    missing = [
        f"{var} (default {default})"
        for var, default, _ in variables(Settings)
        if f"| `{var}` | `{default}` |" not in README
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    assert "make test" in ci.splitlines()[-1]
