"""Liveness, readiness and Prometheus metrics: ``/healthz``, ``/readyz``, ``/metrics`` (no key needed).

``/healthz`` answers while the process runs; ``/readyz`` only when the database answers within a
second (a load balancer stops sending traffic otherwise); ``/metrics`` is the Prometheus exposition.
"""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from api.db import pool
from api.problems import Problem, responses
from hatang.db import ping

router = APIRouter(tags=["meta"])


class Health(BaseModel):
    """A health answer."""

    status: str


@router.get("/healthz", summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz", summary="The API can serve requests (its database answers)", responses=responses("unavailable")
)
async def readyz(request: Request) -> Health:
    try:
        async with asyncio.timeout(1.0), pool(request).connection(timeout=1.0) as conn:
            await ping(conn)
    except (TimeoutError, psycopg.Error) as exc:
        raise Problem("unavailable", f"the database does not answer: {type(exc).__name__}") from None
    return Health(status="ready")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}, "description": "Metrics"}
    },
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
