"""OpenTelemetry traces: the tracer provider of a process, context carried across processes,
and the ids of the current span in every log line.

The composition root configures tracing once per process (``configure_tracing``). Spans are
recorded and exported only when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set: OTLP over HTTP, in batches, to that
collector. Without it the OpenTelemetry API's no-op tracer stays in place: a span costs a
function call and nothing leaves the process. The standard ``OTEL_*`` variables apply
(``OTEL_SERVICE_NAME``, ``OTEL_SDK_DISABLED``, ``OTEL_BSP_SCHEDULE_DELAY``, headers ...).

Span attributes name things (pipeline, execution, plugin, stream, record counts), never a
setting's value: configurations hold secrets.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context, trace

#: The instrumentation scope of FLX's own spans.
SCOPE = "flx"

#: The service name of each kind of process (``flx_core.application.ProcessKind`` values).
SERVICE_NAMES = {
    "cli": "flx-cli",
    "server": "flx-server",
    "worker": "flx-worker",
    "scheduler": "flx-scheduler",
}

_lock = threading.Lock()
_configured: dict[str, Any] = {}


def export_endpoint() -> str | None:
    """The collector spans go to, from the environment (None: tracing is off)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    for name in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def configure_tracing(kind: str) -> bool:
    """Install the tracer provider of this process, once; whether spans are recorded.

    ``kind`` is the process kind (``server``, ``worker`` ...): it names the service unless
    ``OTEL_SERVICE_NAME`` does. A provider installed before (a test's, with an in-memory
    exporter) is left in place; so is the one a first call installed (a process that
    bootstraps several runtimes).
    """
    with _lock:
        current = trace.get_tracer_provider()
        if not isinstance(current, trace.ProxyTracerProvider):
            return not isinstance(current, trace.NoOpTracerProvider)
        if export_endpoint() is None:
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        service = os.environ.get("OTEL_SERVICE_NAME") or SERVICE_NAMES.get(kind, f"flx-{kind}")
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        return True


def flush_traces(timeout_millis: int = 5000) -> None:
    """Export the spans still buffered (a process about to end without running its exit
    hooks, like a Celery pool child)."""
    provider: Any = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is not None:
        flush(timeout_millis)


def tracer() -> trace.Tracer:
    """FLX's tracer (a proxy until a provider is installed, then the provider's)."""
    if "tracer" not in _configured:
        _configured["tracer"] = trace.get_tracer(SCOPE)
    found: trace.Tracer = _configured["tracer"]
    return found


def current_carrier() -> dict[str, str]:
    """The W3C trace context of the current span (``traceparent``, ``tracestate``), to
    send along with work another process does; empty when nothing is traced."""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


@contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Make the trace context in ``carrier`` (from ``current_carrier`` in the process that
    sent the work) current, so the spans started inside continue that trace."""
    if not carrier:
        yield
        return
    from opentelemetry.propagate import extract

    token = otel_context.attach(extract(dict(carrier)))
    try:
        yield
    finally:
        otel_context.detach(token)


def mark_failed(span: trace.Span, description: str | None) -> None:
    """Set the span's status to error, with the first line of ``description`` (passwords in
    connection strings masked)."""
    from opentelemetry.trace import Status, StatusCode

    from flx_core.domain import mask_inline_secrets

    text = (description or "").strip().splitlines()
    span.set_status(Status(StatusCode.ERROR, mask_inline_secrets(text[0][:200]) if text else None))


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A span of FLX's own, current inside the block. An exception ends it failed with the
    exception's type only: its message and traceback are not recorded (they may quote a
    setting or a connector's output)."""
    with tracer().start_as_current_span(
        name, attributes=attributes or None, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            mark_failed(current, type(exc).__name__)
            raise


def add_trace_ids(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the trace and span ids of the current span, when it is
    sampled (exported), so that a log line leads to its trace."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid and ctx.trace_flags.sampled:
        event.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event.setdefault("span_id", format(ctx.span_id, "016x"))
    return event
