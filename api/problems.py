"""RFC 9457 problem details: the one error format of the API, with a stable ``type`` per kind of error.

Owns the catalogue of problem types (``PROBLEM_TYPES``), the :class:`Problem` exception routers raise,
the ``ProblemDetail`` schema for OpenAPI, and ``install`` which registers the exception handlers that
turn every error — validation, unknown route, registry errors, database constraint violations that
slipped past validation — into ``application/problem+json``. Bad input is always a 4xx; a 5xx means a
bug or an unavailable dependency. Routers never build error responses by hand.

Adding a problem type: add it to ``PROBLEM_TYPES`` (slug, status, title, description); its ``type`` URI
is ``/problems/<slug>`` (relative, resolved against the API's base URL) and is documented there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from registry import (
    ConflictError,
    ForbiddenError,
    InvalidReferenceError,
    InvalidTransitionError,
    NotFoundError,
    RegistryError,
)
from timeseries import InvalidArgumentError, MissingError, TimeseriesError

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of error: its slug (the last segment of ``type``), HTTP status and title."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """The ``type`` member of its problem documents."""
        return f"/problems/{self.slug}"


PROBLEM_TYPES: dict[str, ProblemType] = {
    p.slug: p
    for p in (
        ProblemType("bad-request", 400, "Bad request", "The request could not be read (malformed body)."),
        ProblemType(
            "invalid-cursor", 400, "Invalid cursor", "The pagination cursor is not one this API issued."
        ),
        ProblemType(
            "unauthorized", 401, "Unauthorized", "No valid API key: send `Authorization: Bearer <key>`."
        ),
        ProblemType("forbidden", 403, "Forbidden", "The key's role or organisation does not allow this."),
        ProblemType("not-found", 404, "Not found", "No such resource, or none this key may see."),
        ProblemType(
            "method-not-allowed", 405, "Method not allowed", "The resource does not support the method."
        ),
        ProblemType("not-acceptable", 406, "Not acceptable", "No representation matches the Accept header."),
        ProblemType(
            "conflict", 409, "Conflict", "The change clashes with existing data (a taken id, a use)."
        ),
        ProblemType(
            "invalid-transition",
            409,
            "Invalid state transition",
            "Devices move provisioned -> active <-> suspended -> retired only.",
        ),
        ProblemType(
            "payload-too-large", 413, "Payload too large", "The upload exceeds the configured limit."
        ),
        ProblemType(
            "unsupported-media-type",
            415,
            "Unsupported media type",
            "The body's Content-Type is not one this endpoint reads.",
        ),
        ProblemType(
            "validation",
            422,
            "Validation failed",
            "The request is well-formed but its values are invalid; `errors` lists each one.",
        ),
        ProblemType(
            "invalid-reference", 422, "Invalid reference", "A field names something that does not exist."
        ),
        ProblemType(
            "bulk-rejected",
            422,
            "Bulk upload rejected",
            "An all-or-nothing upload had invalid rows, so nothing was written; the body reports every row.",
        ),
        ProblemType(
            "rate-limited",
            429,
            "Too many requests",
            "The public surface's rate limit for this client is used up; `Retry-After` says when to retry.",
        ),
        ProblemType(
            "internal", 500, "Internal error", "A bug: the request was not carried out. It is logged."
        ),
        ProblemType(
            "unavailable", 503, "Service unavailable", "A dependency (the database) is not reachable."
        ),
    )
}


class ProblemDetail(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "/problems/not-found",
                    "title": "Not found",
                    "status": 404,
                    "detail": "no device 'wq-bn-000123'",
                    "instance": "/v1/devices/wq-bn-000123",
                }
            ]
        },
    )

    type: str = Field(description="A stable URI per kind of error; `/problems/<slug>` documents it.")
    title: str
    status: int
    detail: str = ""
    instance: str = ""


class Problem(Exception):  # noqa: N818 - named after the RFC's "problem details", as raised by routers
    """An error a router raises; the handler renders it as problem+json. ``extra`` adds members."""

    def __init__(
        self, slug: str, detail: str = "", *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail or slug)
        self.kind = PROBLEM_TYPES[slug]
        self.detail = detail
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request, slug: str, detail: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    """The problem+json response of ``slug``."""
    kind = PROBLEM_TYPES[slug]
    body = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=kind.status, media_type=MEDIA_TYPE, headers=headers)


def responses(*slugs: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route that may answer with these problems."""
    out: dict[int | str, dict[str, Any]] = {}
    for slug in slugs:
        kind = PROBLEM_TYPES[slug]
        entry = out.setdefault(kind.status, {"description": kind.title, "model": ProblemDetail})
        if entry["description"] != kind.title:
            entry["description"] += f" / {kind.title}"
        entry.setdefault("content", {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetail"}}})
    return out


#: Problems every authenticated route may answer with.
COMMON = ("bad-request", "unauthorized", "forbidden", "validation")

_HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation",
    503: "unavailable",
}


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for error in exc.errors():
        errors.append(
            {
                "loc": [str(part) for part in error.get("loc", ())],
                "message": str(error.get("msg", "")),
                "code": str(error.get("type", "")),
            }
        )
    return errors


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(request, exc.kind.slug, exc.detail, headers=exc.headers, **exc.extra)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    if any(e["code"] == "json_invalid" for e in errors):
        return problem_response(request, "bad-request", "the body is not valid JSON", errors=errors)
    return problem_response(request, "validation", f"{len(errors)} invalid value(s)", errors=errors)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = _HTTP_SLUGS.get(exc.status_code, "bad-request" if exc.status_code < 500 else "internal")
    headers = dict(exc.headers) if exc.headers else None
    detail = exc.detail if isinstance(exc.detail, str) else ""
    return problem_response(request, slug, detail, headers=headers)


async def _on_registry(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, NotFoundError):
        return problem_response(request, "not-found", str(exc), entity=exc.entity, key=exc.key)
    if isinstance(exc, InvalidTransitionError):
        return problem_response(
            request, "invalid-transition", str(exc),
            current=exc.current, requested=exc.requested, allowed=list(exc.allowed),
        )  # fmt: skip
    if isinstance(exc, ConflictError):
        return problem_response(request, "conflict", str(exc), entity=exc.entity, key=exc.key)
    if isinstance(exc, InvalidReferenceError):
        return problem_response(request, "invalid-reference", str(exc), field=exc.field, value=exc.value)
    if isinstance(exc, ForbiddenError):
        return problem_response(request, "forbidden", str(exc))
    return problem_response(request, "bad-request", str(exc))


async def _on_timeseries(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, MissingError):
        return problem_response(request, "not-found", str(exc), entity=exc.entity, key=exc.key)
    if isinstance(exc, InvalidArgumentError):
        return problem_response(request, "invalid-reference", str(exc), field=exc.field, value=exc.value)
    return problem_response(request, "bad-request", str(exc))


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    # Validation should have caught these; the database's own checks are the last line, and a
    # value it refuses is still the client's fault, not a server error.
    diag = getattr(exc, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return problem_response(request, "conflict", "a unique value is already taken", constraint=constraint)
    if isinstance(exc, psycopg.errors.ForeignKeyViolation) and constraint.endswith("_sector_fk"):
        # Sectors are data (migration 1002): naming one that is not a row is a bad reference.
        return problem_response(request, "invalid-reference", "no such sector", field="sector",
                                constraint=constraint)  # fmt: skip
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return problem_response(request, "conflict", "the row is referenced or refers to nothing",
                                constraint=constraint)  # fmt: skip
    if isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.DataError):
        return problem_response(request, "validation", "a value is out of the allowed range",
                                constraint=constraint)  # fmt: skip
    if isinstance(exc, psycopg.OperationalError):
        log.warning("database unavailable: %s", exc)
        return problem_response(request, "unavailable", "the database is not reachable")
    log.exception("database error", exc_info=exc)
    return problem_response(request, "internal", "the request failed; it is logged")


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, "internal", "the request failed; it is logged")


def install(app: FastAPI) -> None:
    """Register the problem+json exception handlers and the ``/problems/<slug>`` documentation."""
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RegistryError, _on_registry)
    app.add_exception_handler(TimeseriesError, _on_timeseries)
    app.add_exception_handler(psycopg.Error, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)

    @app.get("/problems/{slug}", tags=["meta"], summary="What a problem type means",
             responses=responses("not-found"))  # fmt: skip
    async def problem_type(slug: str) -> dict[str, Any]:
        kind = PROBLEM_TYPES.get(slug)
        if kind is None:
            raise Problem("not-found", f"no problem type {slug!r}")
        return {"type": kind.uri, "status": kind.status, "title": kind.title, "description": kind.description}
