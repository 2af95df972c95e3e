"""Spans of this process: gRPC calls through the interceptor, commands and queries through
the bus middleware, and the trace ids in log lines."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import structlog
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from flx_core.application import Application, ApplicationModule, Command, core_module
from flx_core.domain import Principal, ServiceResult
from flx_core.testing import FakeClock, InMemoryWorld
from flx_observability import TracingServerInterceptor, configure_logging, current_carrier
from flx_observability.module import build_module
from flx_observability.testing import recording_spans


async def say(request: bytes, context: Any) -> bytes:
    return request


async def refuse(request: bytes, context: Any) -> bytes:
    await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not yours")
    raise AssertionError("unreachable")


async def many(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for _ in range(3):
        yield request


async def test_each_grpc_call_is_a_span_continuing_the_callers_trace() -> None:
    handlers = {
        "Say": grpc.unary_unary_rpc_method_handler(say),
        "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
        "Many": grpc.unary_stream_rpc_method_handler(many),
    }
    server = grpc.aio.server(interceptors=[TracingServerInterceptor()])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        with recording_spans() as exporter:
            with trace.get_tracer("test").start_as_current_span("caller") as caller:
                metadata = tuple(current_carrier().items())
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert await channel.unary_unary("/t.Echo/Say")(b"hi", metadata=metadata) == b"hi"
                replies = [r async for r in channel.unary_stream("/t.Echo/Many")(b"x")]
                assert replies == [b"x"] * 3
                with pytest.raises(grpc.aio.AioRpcError) as refused_call:
                    await channel.unary_unary("/t.Echo/Refuse")(b"x")
                assert refused_call.value.code() is grpc.StatusCode.PERMISSION_DENIED
            spans = {s.name: s for s in exporter.get_finished_spans()}
    finally:
        await server.stop(None)

    said = spans["/t.Echo/Say"]
    assert said.context.trace_id == caller.get_span_context().trace_id
    assert said.parent is not None and said.parent.span_id == caller.get_span_context().span_id
    assert said.attributes is not None and said.attributes["rpc.grpc.status_code"] == "OK"
    assert spans["/t.Echo/Many"].parent is None  # no traceparent: a trace of its own
    refused = spans["/t.Echo/Refuse"]
    assert refused.attributes is not None
    assert refused.attributes["rpc.grpc.status_code"] == "PERMISSION_DENIED"
    assert refused.status.status_code is StatusCode.ERROR


def test_without_an_exporter_the_bus_gets_no_middleware(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to export: no span is made at all (a process whose provider is installed
    already, as the tests' is, gets the middleware)."""
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    installed = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert bool(build_module(_wiring()).middleware) is installed


async def test_log_lines_inside_a_recorded_span_carry_its_ids() -> None:
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    log = structlog.get_logger("t")
    with recording_spans(), trace.get_tracer("test").start_as_current_span("work") as span:
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in out.getvalue().splitlines())
    ids = span.get_span_context()
    assert inside["trace_id"] == format(ids.trace_id, "032x")
    assert inside["span_id"] == format(ids.span_id, "016x")
    assert "trace_id" not in outside


class Explode(Command):
    permission = None
    pipeline: str


class Refused(Command):
    permission = None


async def test_a_command_that_raises_is_a_failed_span_without_its_message() -> None:
    """The exception's message may quote a connection string: only its type is kept."""
    module = ApplicationModule("t")

    @module.command(Explode)
    async def explode(cmd: Explode, ctx: Any) -> ServiceResult[None]:
        raise RuntimeError("cannot connect to postgresql://flx:hunter2pw@db/flx")

    @module.command(Refused)
    async def refused(cmd: Refused, ctx: Any) -> ServiceResult[None]:
        return ServiceResult.failure("no: postgresql://flx:hunter2pw@db/flx", "refused")

    with recording_spans() as exporter:
        app = Application(InMemoryWorld().uow, clock=FakeClock())
        app.include([core_module, build_module(_wiring()), module])
        with pytest.raises(RuntimeError):
            await app.execute(Explode(pipeline="p1"), principal=Principal.system())
        assert not (await app.execute(Refused(), principal=Principal.system())).ok
        spans = {s.name: s for s in exporter.get_finished_spans()}
    exploded, failed = spans["Explode"], spans["Refused"]
    assert exploded.status.status_code is StatusCode.ERROR
    assert exploded.status.description == "RuntimeError"
    assert not exploded.events
    assert exploded.attributes is not None and exploded.attributes["flx.pipeline"] == "p1"
    assert failed.attributes is not None and failed.attributes["flx.error.code"] == "refused"
    assert failed.status.description == "no: postgresql://flx:********@db/flx"


def _wiring() -> Any:
    from flx_core.application import ProcessKind, Wiring
    from flx_core.config import FlxSettings

    return Wiring(ProcessKind.CLI, FlxSettings(), None, FakeClock())
