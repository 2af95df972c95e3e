"""A span per gRPC call, as a ``grpc.aio`` server interceptor (for servers built with
grpcio, which the gRPC adapter brings; this module is imported only by it).

The span is named after the full method (``/flx.v1.Pipelines/ListPipelines``), continues
the caller's trace from the ``traceparent`` metadata, and records the status code the
handler ended with (an aborted call raises; its code is read from the context).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import contextmanager
from typing import Any

import grpc

from flx_observability.grpc_handlers import status_name, wrap_handler
from flx_observability.tracing import continued, mark_failed, tracer

_PROPAGATED = ("traceparent", "tracestate")


@contextmanager
def _call_span(method: str, metadata: Any, context: Any) -> Any:
    from opentelemetry.trace import SpanKind

    carrier = {k: v for k, v in (metadata or ()) if k in _PROPAGATED and isinstance(v, str)}
    with (
        continued(carrier),
        tracer().start_as_current_span(
            method, kind=SpanKind.SERVER, record_exception=False, set_status_on_exception=False
        ) as span,
    ):
        if span.is_recording():
            span.set_attribute("rpc.system", "grpc")
            span.set_attribute("rpc.method", method)
        try:
            yield span
        except BaseException:
            _finish(span, context, failed=True)
            raise
        _finish(span, context, failed=False)


def _finish(span: Any, context: Any, *, failed: bool) -> None:
    if not span.is_recording():
        return
    name = status_name(context, failed=failed)
    span.set_attribute("rpc.grpc.status_code", name)
    if name != "OK":
        mark_failed(span, name)


class TracingServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps every method handler of the server in a span."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = str(handler_call_details.method)
        metadata = handler_call_details.invocation_metadata
        return wrap_handler(handler, lambda context: _call_span(method, metadata, context))
