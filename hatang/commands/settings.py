"""``hatang settings``: every ``HATANG_*`` variable with its default and meaning (the README's table)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, SecretStr

from hatang.output import add_format_argument, render
from hatang.settings import Settings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``settings``."""
    parser = subparsers.add_parser("settings", help="list every HATANG_* variable (the README's table)")
    parser.add_argument("--values", action="store_true", help="show the values in effect (secrets masked)")
    add_format_argument(parser)
    parser.set_defaults(func=_settings)


def variables(model: type[BaseModel], prefix: str = "HATANG_") -> Iterator[tuple[str, str, str]]:
    """(variable, default, description) for every field, nested sections flattened with ``__``."""
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from variables(annotation, f"{prefix}{name.upper()}__")
            continue
        default = field.get_default(call_default_factory=True)
        shown = str(default)
        if default is None:
            shown = "(unset)"
        elif isinstance(default, SecretStr):
            shown = "(secret)"
        yield f"{prefix}{name.upper()}", shown, field.description or ""


def _settings(args: argparse.Namespace, settings: Settings) -> int:
    if args.format != "table":  # the table is the README's Markdown; scripts get plain rows
        rows = [
            {"variable": var, "default": default, "meaning": description}
            | ({"value": _value(settings, var)} if args.values else {})
            for var, default, description in variables(Settings)
        ]
        print(render(rows, args.format, key="settings"))
        return 0
    print("| variable | default | meaning |" + (" value |" if args.values else ""))
    print("|---|---|---|" + ("---|" if args.values else ""))
    for var, default, description in variables(Settings):
        row = f"| `{var}` | `{default}` | {description} |"
        if args.values:
            row += f" `{_value(settings, var)}` |"
        print(row)
    return 0


def _value(settings: Settings, var: str) -> str:
    value: Any = settings
    for part in var.removeprefix("HATANG_").lower().split("__"):
        value = getattr(value, part)
    return "***" if isinstance(value, SecretStr) else str(value)
