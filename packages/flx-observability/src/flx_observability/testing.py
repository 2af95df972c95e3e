"""Spans for tests: an OTLP/HTTP trace receiver (a tiny HTTP server on a free loopback port
that accepts ``POST /v1/traces`` and keeps the spans other processes send it), and the
spans of the test's own process in memory (``recording_spans``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class ReceivedSpan:
    name: str
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None


def decode(body: bytes) -> list[ReceivedSpan]:
    """The spans of an ``ExportTraceServiceRequest``."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        name=span.name,
                        service=str(resource.get("service.name", "")),
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        attributes={a.key: _value(a.value) for a in span.attributes},
                    )
                )
    return spans


class OtlpReceiver:
    """``with OtlpReceiver() as receiver:``; point ``OTEL_EXPORTER_OTLP_ENDPOINT`` at
    ``receiver.endpoint``; read ``receiver.spans`` or ``wait_for(...)``."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.paths.append(self.path)
                    if self.path == "/v1/traces":
                        receiver.spans.extend(decode(body))
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, *names: str, timeout: float = 30) -> list[ReceivedSpan]:
        """The spans received once every one of ``names`` is among them (else fail)."""
        end = time.monotonic() + timeout
        while True:
            spans = self.received()
            if set(names) <= {s.name for s in spans}:
                return spans
            if time.monotonic() > end:
                got = sorted({s.name for s in spans})
                raise AssertionError(f"spans {sorted(names)} not all received; got {got}")
            time.sleep(0.05)


class _Switch:
    """A sampler that records while on and drops otherwise (a process-wide tracer provider
    cannot be replaced: tests turn it on for their span of time only)."""

    def __init__(self) -> None:
        self.on = False

    def should_sample(self, *args: Any, **kwargs: Any) -> Any:
        from opentelemetry.sdk.trace.sampling import Decision, SamplingResult

        return SamplingResult(Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP)

    def get_description(self) -> str:
        return "flx test switch"


_recording: dict[str, Any] = {}


@contextmanager
def recording_spans() -> Iterator[Any]:
    """The spans this process records meanwhile, in an ``InMemorySpanExporter`` (installs
    the process's tracer provider on first use; fails if another one was installed)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    if not _recording:
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            raise RuntimeError("a tracer provider is already installed in this process")
        switch, exporter = _Switch(), InMemorySpanExporter()
        provider = TracerProvider(sampler=switch)  # type: ignore[arg-type]
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _recording.update(switch=switch, exporter=exporter)
    switch, exporter = _recording["switch"], _recording["exporter"]
    exporter.clear()
    switch.on = True
    try:
        yield exporter
    finally:
        switch.on = False
