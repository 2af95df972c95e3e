"""HTTP request counts and latencies, as plain ASGI middleware (no web framework imported).

Requests are labelled with the route's template (``/api/v1/pipelines/{name}``) once the
application has routed them, never with the raw path: a path that matched no route is
``unmatched``, whatever it was, so that a scanner walking random URLs adds no series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flx_observability.metrics import HTTP_DURATION, HTTP_REQUESTS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED = "unmatched"
#: Methods kept as they are; any other is counted as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The template of the route that took the request: FastAPI's full path of an included
    router's route (``/api/v1/pipelines/{pipeline}``), else the matched route's own
    (``/{path}`` for an application mounted at ``/``, such as the dashboard)."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    template = getattr(effective, "path_format", None)
    if isinstance(template, str) and template:
        return template
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(template, str) and template:
        return template
    return UNMATCHED


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", "GET")).upper()
        method = method if method in METHODS else "other"
        status = [500]  # what a request that raised before its response is answered with

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status[0])).inc()
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - began)
