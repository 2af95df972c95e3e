"""The server's interceptors: request logging with a request id, error mapping, and
authentication (a bearer token in the ``authorization`` metadata).

Each wraps the behaviour of a method's handler in an async context manager, for unary and
streaming methods alike. The server orders them: the caller's hooks (metrics, traces)
outermost, then logging, errors, authentication.
"""

from __future__ import annotations

import inspect
import time
import uuid
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import grpc
import structlog
from grpc import aio

from flx_core.application import Application
from flx_core.domain import Principal
from flx_grpc._caller import Caller, principal_of, request_id, set_caller, set_request_id
from flx_grpc._errors import RpcFailure

log = structlog.get_logger("flx_grpc")

#: Methods callable without a token: holding the credentials is the authorization (login,
#: refresh, logout), or they say nothing about FLX's data (health, reflection).
PUBLIC_METHODS = frozenset(
    {
        "/flx.v1.AuthService/Login",
        "/flx.v1.AuthService/Refresh",
        "/flx.v1.AuthService/Logout",
    }
)
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

Around = Callable[[aio.ServicerContext[Any, Any], str], AbstractAsyncContextManager[None]]


def is_public(method: str) -> bool:
    return method in PUBLIC_METHODS or method.startswith(PUBLIC_PREFIXES)


def metadata_value(context: aio.ServicerContext[Any, Any], key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("latin-1")
    return None


def bearer_token(context: aio.ServicerContext[Any, Any]) -> str | None:
    header = metadata_value(context, "authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def wrapped(handler: grpc.RpcMethodHandler, method: str, around: Around) -> grpc.RpcMethodHandler:
    """``handler`` with each call's behaviour run inside ``around(context, method)``."""

    def unary(inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
            async with around(context, method):
                return await inner(request, context)

        return call

    def streaming(inner: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
        async def call(request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with around(context, method):
                if inspect.isasyncgenfunction(inner) or not inspect.iscoroutinefunction(inner):
                    async for item in inner(request, context):
                        yield item
                else:  # a behaviour that writes with context.write
                    await inner(request, context)

        return call

    kinds = {
        "unary_unary": (grpc.unary_unary_rpc_method_handler, unary),
        "unary_stream": (grpc.unary_stream_rpc_method_handler, streaming),
        "stream_unary": (grpc.stream_unary_rpc_method_handler, unary),
        "stream_stream": (grpc.stream_stream_rpc_method_handler, streaming),
    }
    for kind, (make, wrap) in kinds.items():
        behaviour = getattr(handler, kind)
        if behaviour is not None:
            made: grpc.RpcMethodHandler = make(
                wrap(behaviour),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            return made
    return handler


class _Wrapping(aio.ServerInterceptor):  # type: ignore[misc]
    """An interceptor that runs each call of the methods it ``applies`` to in ``around``."""

    @abstractmethod
    def around(
        self, context: aio.ServicerContext[Any, Any], method: str
    ) -> AbstractAsyncContextManager[None]: ...

    def applies(self, method: str) -> bool:
        return True

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or not self.applies(method):
            return handler
        return wrapped(handler, method, self.around)


class RequestLogInterceptor(_Wrapping):
    """A request id per call (the client's ``x-request-id`` when it sends a sane one),
    sent back as initial metadata, bound to every log line of the call; one line per call
    with the method, the status code and the duration."""

    @asynccontextmanager
    async def around(
        self, context: aio.ServicerContext[Any, Any], method: str
    ) -> AsyncIterator[None]:
        incoming = metadata_value(context, "x-request-id") or ""
        rid = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        set_request_id(rid)
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=rid):
            await context.send_initial_metadata((("x-request-id", rid),))
            code = grpc.StatusCode.OK
            try:
                yield
            except BaseException:
                code = _code_of(context, grpc.StatusCode.CANCELLED)
                raise
            else:
                code = _code_of(context, grpc.StatusCode.OK)
            finally:
                log.info(
                    "grpc_request",
                    method=method,
                    code=code.name,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


def _code_of(context: aio.ServicerContext[Any, Any], fallback: grpc.StatusCode) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        for status in grpc.StatusCode:
            if status.value[0] == code:
                return status
    return fallback


class ErrorInterceptor(_Wrapping):
    """``RpcFailure`` as its status with details; any other exception logged with the
    request id and answered INTERNAL naming only that id (no stack trace leaves)."""

    @asynccontextmanager
    async def around(
        self, context: aio.ServicerContext[Any, Any], method: str
    ) -> AsyncIterator[None]:
        try:
            yield
        except RpcFailure as failure:
            await context.abort_with_status(failure.to_status(request_id()))
        except (aio.AbortError, aio.UsageError, GeneratorExit):
            raise
        except Exception as exc:
            if isinstance(exc, StopAsyncIteration):
                raise
            rid = request_id()
            log.error("grpc_request_failed", method=method, error=type(exc).__name__, exc_info=exc)
            internal = RpcFailure(
                "internal_error",
                f"internal error (request id {rid}); the server log has the details",
                status=grpc.StatusCode.INTERNAL,
            )
            await context.abort_with_status(internal.to_status(rid))


class AuthInterceptor(_Wrapping):
    """The caller of every method but the public ones, from ``authorization: Bearer``
    metadata: UNAUTHENTICATED with the reason when the token is missing, malformed,
    expired or revoked, or its user disabled."""

    def __init__(self, app: Application) -> None:
        self.app = app

    @asynccontextmanager
    async def around(
        self, context: aio.ServicerContext[Any, Any], method: str
    ) -> AsyncIterator[None]:
        if is_public(method):
            set_caller(Caller(self.app, Principal.anonymous()))
            yield
            return
        token = bearer_token(context)
        if token is None:
            raise RpcFailure(
                "unauthenticated", "missing bearer token (authorization: Bearer <token>)"
            )
        set_caller(Caller(self.app, await principal_of(self.app, token), token))
        yield
