"""``hatang contracts``: the device makers' view of the firmware contracts.

``list`` shows the shipped device models, ``schema MODEL`` prints the JSON Schema of a model's
native payload, ``example MODEL [--now]`` prints one of the model's example payloads (timed now, so
ingest accepts it: where a first reading comes from), and ``check MODEL PAYLOAD_FILE`` runs one
payload through the normaliser and prints the readings it yields and every violation (exit code 1
if there is any, 4 for an unknown model or an unreadable file). MODEL is ``ID`` (the newest
version), ``ID@VERSION``, or the path of a model file being written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
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
from hatang.errors import CommandError
from hatang.output import add_format_argument, render
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
    del settings
    rows = [
        {
            "model": m.id,
            "version": m.version,
            "sector": m.sector,
            "formats": ",".join(m.formats),
            "metrics": ", ".join(f.metric for f in m.fields),
        }
        for m in sorted(load_models().values(), key=lambda m: (m.sector, m.id, m.version))
    ]
    print(render(rows, args.format, key="models"))
    return 0


def _schema(args: argparse.Namespace, settings: Settings) -> int:
    del settings
    print(json.dumps(json_schema(resolve_model(args.model)), indent=2, ensure_ascii=False))
    return 0


def _example(args: argparse.Namespace, settings: Settings) -> int:
    del settings
    model = resolve_model(args.model)
    textual = [e for e in model.examples if e.format in ("native", "senml+json")]
    if not textual:
        raise CommandError(f"{model.id} has no JSON example")
    chosen = textual[0] if args.example is None else next(
        (e for i, e in enumerate(textual) if args.example in (str(i), e.name)), None
    )
    if chosen is None:
        names = "; ".join(f"{i}: {e.name}" for i, e in enumerate(textual))
        raise CommandError(f"{model.id} has no example {args.example!r} ({names})")
    payload = json.loads(chosen.payload)
    if args.now:
        payload = _timed_now(model, chosen.format, payload, time.time())
    print(json.dumps(payload, ensure_ascii=False))
    return 0


def _timed_now(model: DeviceModel, fmt: str, payload: Any, now: float) -> Any:
    """``payload`` with its time moved to ``now`` (whole seconds), nothing else changed."""
    now = float(int(now))
    if fmt == "senml+json":
        for record in payload:
            if "bt" in record:
                record["bt"] = int(now)
        return payload
    spec = model.time
    if spec is not None and spec.field in payload:
        if spec.format == "epoch_ms":
            payload[spec.field] = int(now) * 1000
        elif spec.format == "rfc3339":
            payload[spec.field] = datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z")
        else:
            payload[spec.field] = int(now)
    return payload


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
    if args.format == "json":
        out: dict[str, Any] = {
            "model": model.id,
            "version": model.version,
            "received_at": received_at,
            "readings": [r._asdict() for r in result.readings],
            "rejections": [msgspec.structs.asdict(r) for r in result.rejections],
        }
        print(json.dumps(out, indent=2))
    elif args.format == "csv":
        rows: list[dict[str, Any]] = [
            {"kind": "reading", "time": r.time, "metric": r.metric, "value": r.value} for r in result.readings
        ]
        rows += [
            {"kind": "rejection", "reason": r.reason, "record": r.record, "message": r.message}
            for r in result.rejections
        ]
        columns = ["kind", "time", "metric", "value", "reason", "record", "message"]
        print(render(rows, "csv", columns=columns))
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
            raise CommandError(str(exc)) from None
        return code

    return run


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``contracts list|schema|check``."""
    parser = subparsers.add_parser("contracts", help="device model contracts: list, schema, check")
    inner = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = inner.add_parser("list", help="the shipped device models")
    add_format_argument(listing)
    listing.set_defaults(func=_guarded(_list))
    schema = inner.add_parser("schema", help="JSON Schema of a model's native payload")
    schema.add_argument("model", help="ID, ID@VERSION or a model file")
    schema.set_defaults(func=_guarded(_schema))
    example = inner.add_parser("example", help="one of the model's example payloads (JSON)")
    example.add_argument("model", help="ID, ID@VERSION or a model file")
    example.add_argument("--example", default=None, help="its index or name (default: the first)")
    example.add_argument("--now", action="store_true", help="timed now, so ingest accepts it")
    example.set_defaults(func=_guarded(_example))
    check = inner.add_parser("check", help="normalise one payload; print readings and violations")
    check.add_argument("model", help="ID, ID@VERSION or a model file")
    check.add_argument("payload_file", help="file holding the payload bytes ('-' for stdin)")
    check.add_argument("--received-at", help="receive time, epoch seconds (default: now)")
    add_format_argument(check)
    check.set_defaults(func=_guarded(_check))
