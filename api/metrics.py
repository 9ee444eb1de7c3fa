"""The API process's Prometheus metrics and the middleware that counts requests.

Labels are the route template (``/v1/devices/{external_id}``), never a raw path or device id, so
their number stays bounded. Served by ``/metrics`` (``api.routers.health``).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "hatang_api_requests_total", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)  # fmt: skip
LATENCY = Histogram(
    "hatang_api_request_duration_seconds", "Time to answer a request, by method and route template.",
    ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)  # fmt: skip
BULK_ROWS = Counter(
    "hatang_api_bulk_rows_total", "Rows of bulk uploads, by entity and outcome.", ["entity", "outcome"]
)


def route_of(scope: Scope) -> str:
    """The template of the route that handled ``scope`` (set by the router), or ``unmatched``."""
    route = scope.get("route")
    return str(getattr(route, "path", None) or "unmatched")


class MetricsMiddleware:
    """Pure ASGI middleware (streaming-safe) counting requests and their duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = route_of(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)


# Live streams (api.hub): no device or client id as a label.
STREAM_DROPPED = Counter(
    "hatang_stream_dropped_total", "Readings dropped from slow stream clients' queues (oldest first)."
)
STREAM_DELIVERED = Counter(
    "hatang_stream_readings_total", "Readings enqueued for stream clients (counted per client)."
)
STREAM_MESSAGES = Counter(
    "hatang_stream_messages_total", "Fan-out messages received from the broker, by outcome.", ["outcome"]
)
STREAM_CLIENTS = Gauge("hatang_stream_clients", "Stream clients connected to this API process.")
STREAM_FEED_UP = Gauge(
    "hatang_stream_feed_connected", "1 while this process is subscribed to the fan-out topics."
)
