"""structlog configuration, done once by the composition root of each process."""

from __future__ import annotations

import logging
import sys
from typing import IO, Any, Literal

import structlog

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

#: Libraries whose debug output holds the values of SQL parameters.
QUIET_LOGGERS = ("aiosqlite", "sqlalchemy.engine", "asyncpg", "psycopg")


def _redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Mask values of keys that name a secret, and passwords inside connection strings,
    whatever the call site passed (the same rules as every other output)."""
    # Imported here: the domain is not needed to configure logging, only to log.
    from flx_core.domain.secrets import MASK, looks_secret, mask_inline_secrets

    for key, value in list(event.items()):
        if looks_secret(key):
            event[key] = MASK
        elif isinstance(value, str) and ("@" in value or "=" in value):
            event[key] = mask_inline_secrets(value)
    return event


def _trace_ids(logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The ids of the current span (see ``tracing.add_trace_ids``); a process that never
    imported OpenTelemetry has no span, and does not pay for the import."""
    if "opentelemetry.trace" not in sys.modules:
        return event
    from flx_observability.tracing import add_trace_ids

    return add_trace_ids(logger, name, event)


def configure_logging(
    level: str = "warning",
    fmt: Literal["auto", "console", "json"] = "auto",
    stream: IO[str] | None = None,
) -> None:
    """Console renderer on a terminal, JSON lines otherwise; logs go to stderr."""
    out = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        # Plain tracebacks: rich's would print local variables, and locals hold secrets.
        else structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if as_json else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.WARNING)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=LEVELS.get(level, logging.WARNING), stream=out, force=True)
    # Database drivers log statements with their parameters (SQLAlchemy at info, the
    # drivers at debug): password hashes and secret settings would reach the log.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
