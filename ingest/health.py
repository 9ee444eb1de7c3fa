"""The ingest worker's HTTP endpoint: ``/healthz``, ``/readyz`` and ``/metrics`` on one port.

Owns :class:`Health` (what the worker's loops report: broker connected, registry connection up,
batch writes failing, last progress) and :func:`serve`, which runs a small Starlette app under
uvicorn *inside the worker's event loop*: ``/healthz`` answering proves the process and its event
loop are alive (a wedged loop answers nothing, so the liveness probe fails). ``/readyz`` is 200 only
when the broker is connected, the database is reachable and, while messages are held, a batch has
committed within ``ready_stall_s``. It reads state; it never touches the broker or the database.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import orjson
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass(slots=True)
class Health:
    """The worker's state as the probes see it; written by its loops, all on one event loop."""

    stall_s: float
    pending: Callable[[], int] = lambda: 0
    broker_connected: bool = False
    database_connected: bool = False
    store_failing: bool = False
    last_progress: float = field(default_factory=time.monotonic)

    def progressed(self) -> None:
        """A batch committed, or messages started to be held after none were: the stall clock restarts."""
        self.last_progress = time.monotonic()

    def problems(self) -> list[str]:
        """Why the worker is not ready (empty: ready)."""
        out = []
        if not self.broker_connected:
            out.append("broker not connected")
        if not self.database_connected:
            out.append("database not reachable (registry connection down)")
        if self.store_failing:
            out.append("batch writes failing")
        held = self.pending()
        stalled = time.monotonic() - self.last_progress
        if held and stalled > self.stall_s:
            out.append(f"{held} messages held and no commit for {stalled:.0f} s")
        return out


def app(health: Health, registry: CollectorRegistry) -> Starlette:
    """The endpoint's routes."""

    async def healthz(request: Request) -> Response:
        return Response(orjson.dumps({"status": "ok"}), media_type="application/json")

    async def readyz(request: Request) -> Response:
        problems = health.problems()
        if problems:
            body = {"type": "about:blank", "title": "Not ready", "status": 503, "detail": "; ".join(problems)}
            return Response(orjson.dumps(body), status_code=503, media_type="application/problem+json")
        return Response(orjson.dumps({"status": "ready"}), media_type="application/json")

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]
    return Starlette(routes=routes)


class _Embedded(uvicorn.Server):
    """uvicorn inside a process that owns its signals: the worker's SIGTERM handler drains it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(health: Health, registry: CollectorRegistry, *, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
    """Serve the endpoint until cancelled (``port`` 0: return at once)."""
    if not port:
        return
    config = uvicorn.Config(
        app(health, registry), host=host, port=port, lifespan="off", access_log=False, log_level="warning"
    )
    server = _Embedded(config)
    try:
        await server.serve()
    finally:
        server.should_exit = True
