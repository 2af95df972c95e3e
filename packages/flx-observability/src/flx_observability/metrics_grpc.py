"""gRPC call counts and latencies, as a ``grpc.aio`` server interceptor (imported only by
processes that serve gRPC).

Calls are labelled with the full method name (``/flx.v1.Pipelines/ListPipelines``), which
the server's registered services bound, and the status code the handler ended with (an
aborted call raises; its code is read from the context). A method no service knows is not
counted here: the server answers it UNIMPLEMENTED without calling a handler.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from flx_observability.grpc_handlers import status_name, wrap_handler
from flx_observability.metrics import GRPC_DURATION, GRPC_REQUESTS


@contextmanager
def _measured(method: str, context: Any) -> Iterator[None]:
    began = time.perf_counter()
    failed = True
    try:
        yield
        failed = False
    finally:
        GRPC_REQUESTS.labels(method, status_name(context, failed=failed)).inc()
        GRPC_DURATION.labels(method).observe(time.perf_counter() - began)


class MetricsServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts and times every call of the server's method handlers."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = str(handler_call_details.method)
        return wrap_handler(handler, lambda context: _measured(method, context))
