"""``hatang contracts``: the device makers' view of the firmware contracts.

``list`` shows the shipped device models, ``schema MODEL`` prints the JSON Schema of a model's
native payload, and ``check MODEL PAYLOAD_FILE`` runs one payload through the normaliser and prints
the readings it yields and every violation (exit code 1 if there is any). MODEL is ``ID``
(the newest version), ``ID@VERSION``, or the path of a model file being written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from firmware_contracts import (
    ContractError,
    DeviceModel,
    Limits,
    compile_model,
    json_schema,
    load_model_file,
    load_models,
    normalise,
)
from hatang.settings import Settings


class _UnknownModelError(Exception):
    pass


def resolve_model(name: str) -> DeviceModel:
    """The model named ``ID``, ``ID@VERSION`` or by a file path."""
    if name.endswith((".yaml", ".yml")) or "/" in name:
        return load_model_file(name)
    models = load_models()
    model_id, _, version = name.partition("@")
    versions = sorted(v for (i, v) in models if i == model_id)
    if not versions:
        raise _UnknownModelError(f"no model {model_id!r}; see `hatang contracts list`")
    if not version:
        return models[(model_id, versions[-1])]
    key = (model_id, int(version.lstrip("v")) if version.lstrip("v").isdigit() else -1)
    if key not in models:
        raise _UnknownModelError(f"{model_id} has versions {versions}, not {version!r}")
    return models[key]


def _list(args: argparse.Namespace, settings: Settings) -> int:
    del args, settings
    rows = [
        (m.id, str(m.version), m.sector, ",".join(m.formats), ", ".join(f.metric for f in m.fields))
        for m in sorted(load_models().values(), key=lambda m: (m.sector, m.id, m.version))
    ]
    header = ("MODEL", "VER", "SECTOR", "FORMATS", "METRICS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    del settings
    print(json.dumps(json_schema(resolve_model(args.model)), indent=2, ensure_ascii=False))
    return 0


def _received_at(text: str | None) -> float:
    if text is None or text == "now":
        return time.time()
    return float(text)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    model = resolve_model(args.model)
    limits = Limits.of(settings.contracts)
    payload = sys.stdin.buffer.read() if args.payload_file == "-" else Path(args.payload_file).read_bytes()
    received_at = _received_at(args.received_at)
    result = normalise(payload, received_at, compile_model(model, limits))
    if args.json:
        out: dict[str, Any] = {
            "model": model.id,
            "version": model.version,
            "received_at": received_at,
            "readings": [r._asdict() for r in result.readings],
            "rejections": [msgspec.structs.asdict(r) for r in result.rejections],
        }
        print(json.dumps(out, indent=2))
    else:
        for reading in result.readings:
            print(f"ok        {reading.time:.3f}  {reading.metric} = {reading.value:g}")
        for rejection in result.rejections:
            where = "" if rejection.record is None else f" [record {rejection.record}]"
            print(f"REJECTED  {rejection.reason}{where}: {rejection.message}")
        print(f"{len(result.readings)} reading(s), {len(result.rejections)} violation(s)")
    return 1 if result.rejections else 0


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            code: int = handler(args, settings)
        except (ContractError, _UnknownModelError, OSError, ValueError) as exc:
            print(f"hatang contracts: {exc}", file=sys.stderr)
            return 2
        return code

    return run


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``contracts list|schema|check``."""
    parser = subparsers.add_parser("contracts", help="device model contracts: list, schema, check")
    inner = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    inner.add_parser("list", help="the shipped device models").set_defaults(func=_guarded(_list))
    schema = inner.add_parser("schema", help="JSON Schema of a model's native payload")
    schema.add_argument("model", help="ID, ID@VERSION or a model file")
    schema.set_defaults(func=_guarded(_schema))
    check = inner.add_parser("check", help="normalise one payload; print readings and violations")
    check.add_argument("model", help="ID, ID@VERSION or a model file")
    check.add_argument("payload_file", help="file holding the payload bytes ('-' for stdin)")
    check.add_argument("--received-at", help="receive time, epoch seconds (default: now)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(func=_guarded(_check))
