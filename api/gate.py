"""The API's front gate: who is calling, and how much they may send, settled before any body is read.

An ASGI middleware for requests that carry a body (POST, PUT, PATCH, DELETE):

1. **Authenticate first.** The ``Authorization: Bearer`` key is checked against the registry before
   one byte of the body is read; a request without a valid key gets its 401 at once, so an
   anonymous caller cannot make the server read (or hold in memory) anything. The principal found
   is kept in the request's state for :mod:`api.auth`, so the key is looked up once.
2. **Cap the body.** JSON bodies may hold ``HATANG_API__MAX_JSON_BYTES``, bulk uploads
   ``HATANG_API__BULK_MAX_BYTES``. A declared ``Content-Length`` above the cap is a 413 before
   reading; a body without one (chunked) is counted as it streams and cut off with a 413 at the cap.

It must not: decide what a role may do (``api.auth`` does), or touch requests without a body.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from registry.keys import ApiKey, authenticate

_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BULK_PREFIX = "/v1/bulk"
STATE_KEY = "principal_key"


class Gate:
    """Authenticate, then cap the body, for every request that may carry one (see the module doc)."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, max_bulk_bytes: int) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_bulk_bytes = max_bulk_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WITH_BODY:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        key = await _authenticate(request)
        if key is None:
            response = problem_response(
                request, "unauthorized", "send `Authorization: Bearer <key>` with a valid key",
                headers={"WWW-Authenticate": "Bearer"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = key
        limit = self.max_bulk_bytes if scope["path"].startswith(BULK_PREFIX) else self.max_json_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            response = problem_response(
                request, "payload-too-large", f"the body may hold at most {limit} bytes", limit=limit
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _capped(receive, limit), send)


async def _authenticate(request: Request) -> ApiKey | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    pool = request.app.state.pool
    conn: psycopg.AsyncConnection[Any]
    async with pool.connection() as conn:
        return await authenticate(conn, token=token.strip())


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises a 413 once the body exceeds ``limit`` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                # FastAPI passes its own HTTPException through body parsing; routers that stream the
                # body (bulk) let it propagate. Either way the problem handler answers 413.
                raise HTTPException(413, f"the body may hold at most {limit} bytes")
        return message

    return wrapped
