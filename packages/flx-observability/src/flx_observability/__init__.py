"""FLX observability: structured logging, traces and health checks (metrics follow).

Names other than ``configure_logging`` are imported on first use: a command that only logs
does not pay for OpenTelemetry.
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
    from flx_observability.tracing import (
        configure_tracing as configure_tracing,
        continued as continued,
        current_carrier as current_carrier,
        flush_traces as flush_traces,
        tracer as tracer,
    )
    from flx_observability.tracing_grpc import TracingServerInterceptor as TracingServerInterceptor
