"""The observability context of every process: its tracer provider, and a span around each
command and query the application handles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from flx_core.application import ApplicationModule, Command, Wiring
from flx_core.domain.pydantic_base import ServiceResult
from flx_observability.tracing import configure_tracing, mark_failed, span


async def message_span(
    message: Any, handle: Callable[[], Awaitable[ServiceResult[Any]]]
) -> ServiceResult[Any]:
    """A span per command or query, named after its type; failed when the result is."""
    kind = "command" if isinstance(message, Command) else "query"
    with span(type(message).__name__, **{"flx.message.kind": kind}) as current:
        pipeline = getattr(message, "pipeline", None)
        if isinstance(pipeline, str):
            current.set_attribute("flx.pipeline", pipeline)
        result = await handle()
        if not result.ok:
            current.set_attribute("flx.error.code", str(result.error_code or "error"))
            mark_failed(current, result.message)
        return result


def build_module(wiring: Wiring) -> ApplicationModule:
    """Configure tracing for the process kind (once per process) and, when spans are
    recorded, hand the bus its span middleware (else the bus goes without: no cost)."""
    traced = configure_tracing(wiring.kind.value)
    return ApplicationModule(name="observability", middleware=[message_span] if traced else [])
