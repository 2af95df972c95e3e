"""gRPC call counts and latencies, as a ``grpc.aio`` server interceptor (imported only by
processes that serve gRPC).

Calls are labelled with the full method name (``/flx.v1.Pipelines/ListPipelines``), which
the server's registered services bound, and the status code the handler ended with (an
aborted call raises; its code is read from the context). A method no service knows is not
counted here: the server answers it UNIMPLEMENTED without calling a handler.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import grpc

from flx_observability.metrics import GRPC_DURATION, GRPC_REQUESTS


def _code(context: Any, failed: bool) -> str:
    try:
        code = context.code()
    except Exception:
        code = None
    if code is None:
        code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


@contextmanager
def _measured(method: str, context: Any) -> Iterator[None]:
    began = time.perf_counter()
    failed = True
    try:
        yield
        failed = False
    finally:
        GRPC_REQUESTS.labels(method, _code(context, failed)).inc()
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
        if handler.unary_unary or handler.stream_unary:
            unary = handler.unary_unary or handler.stream_unary
            factory = (
                grpc.unary_unary_rpc_method_handler
                if handler.unary_unary
                else grpc.stream_unary_rpc_method_handler
            )

            async def single(request: Any, context: Any) -> Any:
                with _measured(method, context):
                    return await unary(request, context)

            return factory(
                single,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        streaming = handler.unary_stream or handler.stream_stream
        factory = (
            grpc.unary_stream_rpc_method_handler
            if handler.unary_stream
            else grpc.stream_stream_rpc_method_handler
        )

        async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
            with _measured(method, context):
                result = streaming(request, context)
                if hasattr(result, "__aiter__"):
                    async for item in result:
                        yield item
                else:
                    await result

        return factory(
            stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
