"""``grpc.health.v1.Health`` answering with the process's real readiness.

The caller passes ``ready``, an async callable that says whether what the process depends
on answers (the composition root probes the database, and the broker when configured).
``Check`` asks it each time (a probe should see the truth, not a cached status); a
background loop asks it every ``WATCH_SECONDS`` so that ``Watch`` streams see changes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from grpc import aio
from grpc_health.v1 import health, health_pb2

log = structlog.get_logger("flx_grpc")

#: Says whether the process is ready to serve.
Readiness = Callable[[], Awaitable[bool]]
#: How often the status that Watch streams is refreshed.
WATCH_SECONDS = 5.0
#: The longest a readiness probe may take before the process counts as not ready.
PROBE_SECONDS = 5.0

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class ReadinessHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """The overall status ("") and that of each FLX service follow ``ready``."""

    def __init__(self, ready: Readiness | None, services: Sequence[str]) -> None:
        super().__init__()
        self._ready = ready
        self._services = ["", *services]
        self._last: bool | None = None

    async def refresh(self) -> bool:
        ok, error = True, None
        if self._ready is not None:
            try:
                ok = bool(await asyncio.wait_for(self._ready(), PROBE_SECONDS))
            except Exception as exc:
                ok, error = False, type(exc).__name__
        if ok != self._last:  # a change is logged, not every probe
            if ok:
                log.info("grpc_health_serving")
            else:
                log.warning("grpc_health_not_serving", error=error)
            self._last = ok
        for name in self._services:
            await self.set(name, SERVING if ok else NOT_SERVING)
        return ok

    async def Check(self, request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        await self.refresh()
        return await super().Check(request, context)

    async def watch_loop(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(WATCH_SECONDS)


@contextlib.asynccontextmanager
async def refreshing(servicer: ReadinessHealth) -> Any:
    """The refresh loop while the server runs; NOT_SERVING everywhere on the way out."""
    task = asyncio.create_task(servicer.watch_loop(), name="flx-grpc-health")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await servicer.enter_graceful_shutdown()
