"""The city dashboard: ``/`` and its static files under ``/static/`` (api/static, no build step).

The page reads the public API and the stream with the visitor's own key; this module only serves
files. Paths are resolved inside api/static and nothing outside it is ever served.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from api.problems import Problem

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}


@router.get("/")
async def index() -> FileResponse:
    """The page."""
    return FileResponse(
        STATIC / "index.html", media_type=TYPES[".html"], headers={"Cache-Control": "no-cache"}
    )


@router.get("/favicon.svg")
@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    """The site icon (browsers ask for /favicon.ico on their own: an SVG answers both)."""
    return FileResponse(
        STATIC / "favicon.svg", media_type=TYPES[".svg"], headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/static/{name:path}")
async def static(name: Annotated[str, PathParam(max_length=200)]) -> FileResponse:
    """One file of api/static (404 for anything else)."""
    path = (STATIC / name).resolve()
    if not path.is_relative_to(STATIC) or not path.is_file() or path.suffix not in TYPES:
        raise Problem("not-found", f"no file {name!r}")
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
