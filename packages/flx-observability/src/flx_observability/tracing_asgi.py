"""A span per HTTP request, as plain ASGI middleware (no web framework imported).

The span continues the caller's trace when the request carries a W3C ``traceparent``
header. It is named after the method and the route's template (``GET /api/v1/pipelines/
{name}``) once the application has routed the request, never after the raw path, so that
names stay few; the path itself is an attribute, the query string is left out (it may hold
a token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from flx_observability.tracing import continued, mark_failed, tracer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_PROPAGATED = (b"traceparent", b"tracestate")


class TracingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind

        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope.get("headers", ())
            if k.lower() in _PROPAGATED
        }
        method = str(scope.get("method", "GET"))
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        with (
            continued(carrier),
            tracer().start_as_current_span(method, kind=SpanKind.SERVER) as span,
        ):
            try:
                await self.app(scope, receive, send_status)
            finally:
                if span.is_recording():
                    route = getattr(scope.get("route"), "path", None)
                    span.update_name(f"{method} {route}" if route else method)
                    span.set_attribute("http.request.method", method)
                    span.set_attribute("url.path", str(scope.get("path", "")))
                    if route:
                        span.set_attribute("http.route", route)
                    if status:
                        span.set_attribute("http.response.status_code", status[0])
                        if status[0] >= 500:
                            mark_failed(span, f"HTTP {status[0]}")
