"""FLX observability: structured logging (metrics, tracing and health checks follow)."""

from flx_observability.logging import configure_logging as configure_logging
