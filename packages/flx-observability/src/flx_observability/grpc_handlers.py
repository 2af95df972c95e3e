"""What the gRPC interceptors of this package share: a server method handler wrapped in a
context manager opened per call, and the status code a call ended with (imported only by
processes that serve gRPC)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

import grpc

#: Opens around one call, given the call's context.
Around = Callable[[Any], AbstractContextManager[Any]]


def status_name(context: Any, *, failed: bool) -> str:
    """The name of the code the call ended with: the one its handler set (an aborted call
    raises; its code is on the context), else UNKNOWN when it raised, OK when it did not."""
    try:
        code = context.code()
    except Exception:
        code = None
    if code is None:
        code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
    return code.name if isinstance(code, grpc.StatusCode) else str(code)


def wrap_handler(handler: grpc.RpcMethodHandler, around: Around) -> grpc.RpcMethodHandler:
    """``handler`` with ``around(context)`` open for the whole of each call: a unary answer,
    or every item of a streamed one."""
    if handler.unary_unary or handler.stream_unary:
        unary = handler.unary_unary or handler.stream_unary
        single_factory = (
            grpc.unary_unary_rpc_method_handler
            if handler.unary_unary
            else grpc.stream_unary_rpc_method_handler
        )

        async def single(request: Any, context: Any) -> Any:
            with around(context):
                return await unary(request, context)

        return single_factory(
            single,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    streaming = handler.unary_stream or handler.stream_stream
    stream_factory = (
        grpc.unary_stream_rpc_method_handler
        if handler.unary_stream
        else grpc.stream_stream_rpc_method_handler
    )

    async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
        with around(context):
            result = streaming(request, context)
            if hasattr(result, "__aiter__"):
                async for item in result:
                    yield item
            else:
                await result

    return stream_factory(
        stream,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
