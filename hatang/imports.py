"""``hatang devices import`` / ``hatang assets import``: a CSV or NDJSON file through the bulk API.

The file goes to ``POST /v1/bulk/{devices,assets}`` as one streamed request (the API checks, writes
and reports each row; nothing here parses or validates rows), with a progress bar over the bytes
sent: the API reads rows as they arrive, so bytes sent is rows processed. The per-row report comes
back as NDJSON and is printed in the shared ``--format``. This is the only module of the command line
that speaks HTTP (httpx); it never touches the database.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from hatang.errors import CommandError, ExitCode
from hatang.output import add_format_argument, render
from hatang.progress import bar
from hatang.settings import Settings

Entity = Literal["devices", "assets"]
_MEDIA = {".csv": "text/csv", ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}
_CHUNK = 64 * 1024
# Columns of the per-row report, in order; devices created now also carry their credentials.
REPORT_COLUMNS: dict[Entity, tuple[str, ...]] = {
    "assets": ("line", "external_id", "status", "errors"),
    "devices": ("line", "external_id", "status", "errors", "mqtt_username", "mqtt_secret", "publish_topic"),
}


@dataclass(frozen=True, slots=True)
class Imported:
    """What the API reported: the summary and one entry per row."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    written: bool


def api_url(settings: Settings) -> str:
    """The API the command line talks to: ``HATANG_CLIENT__API_URL`` or this host's."""
    if settings.client.api_url:
        return settings.client.api_url.rstrip("/")
    host = settings.api.host if settings.api.host not in {"0.0.0.0", "::", ""} else "127.0.0.1"  # noqa: S104
    return f"http://{host}:{settings.api.port}"


def api_key(settings: Settings, demo_key_file: Path) -> str:
    """The key sent: ``HATANG_CLIENT__API_KEY``, else the demo admin key ``hatang seed`` kept."""
    if settings.client.api_key is not None:
        return settings.client.api_key.get_secret_value()
    if demo_key_file.exists():
        return demo_key_file.read_text().strip()
    raise CommandError("no API key: set HATANG_CLIENT__API_KEY (an operator or admin key)")


def media_type(path: Path) -> str:
    """The upload's content type, from the file's extension."""
    media = _MEDIA.get(path.suffix.lower())
    if media is None:
        raise CommandError(f"{path.name}: name a .csv, .ndjson or .jsonl file")
    return media


def upload(path: Path, *, entity: Entity, base_url: str, key: str, atomic: bool) -> Imported:
    """Send ``path`` to the bulk API with a progress bar; returns the API's report."""
    content_type = media_type(path)
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    with handle, bar(f"importing {entity}", total=size, unit="bytes") as progress:

        def chunks() -> Iterator[bytes]:
            while chunk := handle.read(_CHUNK):
                progress.advance(len(chunk))
                yield chunk
            # The last rows are still being checked and written: say so while the report is awaited.
            progress.advance(0, description=f"importing {entity}: sent, API writing")

        headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
        params = {"atomic": "true"} if atomic else {}
        try:
            # No read timeout: the report comes after the whole upload has been written.
            with httpx.Client(timeout=httpx.Timeout(30.0, read=None)) as client:
                response = client.post(
                    f"{base_url}/v1/bulk/{entity}", content=chunks(), headers=headers, params=params
                )
        except httpx.TransportError as exc:
            raise CommandError(
                f"the API at {base_url} is unreachable ({exc}); start it with `hatang api` "
                "or set HATANG_CLIENT__API_URL",
                exit_code=ExitCode.UNREACHABLE,
            ) from None
    return _report(response)


def _report(response: httpx.Response) -> Imported:
    if response.status_code == 200:
        lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        if not lines or "summary" not in lines[0]:
            raise CommandError("the API sent no report", exit_code=ExitCode.FAILED)
        return Imported(summary=lines[0]["summary"], rows=lines[1:], written=True)
    try:
        problem = response.json()
    except ValueError:
        problem = {"detail": response.text[:200]}
    if response.status_code == 422 and "rows" in problem:  # atomic upload refused: the bad rows
        return Imported(summary=problem.get("summary", {}), rows=problem["rows"], written=False)
    detail = problem.get("detail") or problem.get("title") or "refused"
    raise CommandError(f"the API answered {response.status_code}: {detail}")


def add_import_action(inner: argparse._SubParsersAction[Any], entity: Entity, columns: str) -> None:
    """Add ``import FILE [--atomic] [--format ...]`` to ``hatang devices`` or ``hatang assets``."""
    parser = inner.add_parser(
        "import",
        help=f"onboard {entity} from a CSV or NDJSON file through the bulk API (per-row report)",
        description=f"Columns: {columns}. The file's extension (.csv, .ndjson, .jsonl) names its format.",
    )
    parser.add_argument("file", type=Path, help="a .csv, .ndjson or .jsonl file")
    parser.add_argument("--atomic", action="store_true", help="write nothing unless every row is valid")
    add_format_argument(parser)

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        from hatang.commands.seed import demo_key_file  # noqa: PLC0415 - the seed command is heavy

        done = upload(
            args.file, entity=entity, base_url=api_url(settings),
            key=api_key(settings, demo_key_file(settings)), atomic=args.atomic,
        )  # fmt: skip
        print(render_report(done, entity, args.format))
        if not done.written:
            return ExitCode.REFUSED
        return ExitCode.FAILED if done.summary.get("failed") else ExitCode.OK

    parser.set_defaults(func=handler)


def render_report(done: Imported, entity: Entity, fmt: str) -> str:
    """The per-row report in ``fmt``; the table ends with the summary."""
    columns = REPORT_COLUMNS[entity]
    if fmt == "json":
        return json.dumps({"summary": done.summary, "written": done.written, "rows": done.rows})
    rows = [{c: row.get(c) for c in columns} for row in done.rows]
    if fmt == "csv":
        return render(rows, "csv", columns=columns)
    for row in rows:
        errors = row.get("errors") or []
        row["errors"] = "; ".join(str(e) for e in errors) if isinstance(errors, list) else str(errors)
    s = done.summary
    verdict = "written" if done.written else "nothing written (atomic: every row must be valid)"
    tail = (
        f"{s.get('rows', len(rows)):,} rows: {s.get('created', 0):,} created, {s.get('exists', 0):,} already "
        f"there, {s.get('failed', 0):,} failed; {verdict}"
    )
    return f"{render(rows, 'table', columns=columns)}\n{tail}"
