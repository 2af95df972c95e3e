"""FLX observability: structured logging, traces, health checks and metrics.

Names other than ``configure_logging`` are imported on first use: a command that only logs
does not pay for OpenTelemetry or prometheus_client (whose multiprocess mode must be chosen
before its first import: see ``use_multiprocess_dir``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flx_observability.logging import configure_logging as configure_logging

_EXPORTS = {
    "CheckResult": "flx_observability.health",
    "HealthCheck": "flx_observability.health",
    "disk_space": "flx_observability.health",
    "run_check": "flx_observability.health",
    "run_checks": "flx_observability.health",
    "TracingServerInterceptor": "flx_observability.tracing_grpc",
    "configure_tracing": "flx_observability.tracing",
    "continued": "flx_observability.tracing",
    "current_carrier": "flx_observability.tracing",
    "flush_traces": "flx_observability.tracing",
    "tracer": "flx_observability.tracing",
    "BusinessMetrics": "flx_observability.metrics_business",
    "BusinessSnapshot": "flx_observability.metrics_snapshot",
    "DURATION_BUCKETS": "flx_observability.metrics_snapshot",
    "ExecutionTotals": "flx_observability.metrics_snapshot",
    "PipelineTotals": "flx_observability.metrics_snapshot",
    "StreamTotals": "flx_observability.metrics_snapshot",
    "MetricsServerInterceptor": "flx_observability.metrics_grpc",
    "RequestMetricsMiddleware": "flx_observability.metrics_asgi",
    "MetricsPortRefused": "flx_observability.metrics_server",
    "scrape": "flx_observability.metrics_server",
    "serve_metrics": "flx_observability.metrics_server",
    "METRICS_CONTENT_TYPE": "flx_observability.metrics_server",
    "mark_process_dead": "flx_observability.metrics_multiprocess",
    "process_registry": "flx_observability.metrics_multiprocess",
    "use_multiprocess_dir": "flx_observability.metrics_multiprocess",
}

__all__ = sorted([*_EXPORTS, "configure_logging"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flx_observability' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from flx_observability.health import (
        CheckResult as CheckResult,
        HealthCheck as HealthCheck,
        disk_space as disk_space,
        run_check as run_check,
        run_checks as run_checks,
    )
    from flx_observability.metrics_asgi import RequestMetricsMiddleware as RequestMetricsMiddleware
    from flx_observability.metrics_business import BusinessMetrics as BusinessMetrics
    from flx_observability.metrics_grpc import MetricsServerInterceptor as MetricsServerInterceptor
    from flx_observability.metrics_multiprocess import (
        mark_process_dead as mark_process_dead,
        process_registry as process_registry,
        use_multiprocess_dir as use_multiprocess_dir,
    )
    from flx_observability.metrics_server import (
        METRICS_CONTENT_TYPE as METRICS_CONTENT_TYPE,
        MetricsPortRefused as MetricsPortRefused,
        scrape as scrape,
        serve_metrics as serve_metrics,
    )
    from flx_observability.metrics_snapshot import (
        DURATION_BUCKETS as DURATION_BUCKETS,
        BusinessSnapshot as BusinessSnapshot,
        ExecutionTotals as ExecutionTotals,
        PipelineTotals as PipelineTotals,
        StreamTotals as StreamTotals,
    )
    from flx_observability.tracing import (
        configure_tracing as configure_tracing,
        continued as continued,
        current_carrier as current_carrier,
        flush_traces as flush_traces,
        tracer as tracer,
    )
    from flx_observability.tracing_grpc import TracingServerInterceptor as TracingServerInterceptor
