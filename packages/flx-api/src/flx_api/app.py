"""The FastAPI application factory.

``create_app`` takes the settings and a coroutine function that builds the process (the
composition root passes ``bootstrap``); nothing is created at import time. The process is
built in the lifespan, so each uvicorn worker builds its own after the fork.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from flx_api.deps import RuntimeLike
from flx_api.health import ReadinessCheck
from flx_api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from flx_api.problems import document_problems, install_problem_handlers
from flx_api.ratelimit import RateLimitMiddleware, RateLimits
from flx_api.routes import API_ROUTERS, health_router
from flx_core.config import FlxSettings

API_PREFIX = "/api/v1"

#: Long-lived work that runs beside the API in the same process (the embedded executor,
#: the scheduler, the reaper): entered after the process is built, left before it closes.
Services = Callable[[RuntimeLike], AbstractAsyncContextManager[Any]]


def operation_id(route: APIRoute) -> str:
    """Operation ids are the route functions' names (``list_pipelines``): a client generator
    turns them into clean method names."""
    return route.name


def create_app(
    settings: FlxSettings,
    build: Callable[[], Awaitable[RuntimeLike]],
    *,
    services: Services | None = None,
    checks: Callable[[RuntimeLike], Sequence[ReadinessCheck]] | None = None,
    limits: RateLimits | None = None,
    include_api: bool = True,
) -> FastAPI:
    """The application of one server process. With ``include_api`` false it serves only
    the health probes (and what its caller mounts on it: the dashboard, ``/metrics``)."""
    rate_limits = limits or RateLimits(settings.redis_url)

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        runtime = await build()
        try:
            api.state.runtime = runtime
            api.state.checks = list(checks(runtime)) if checks else []
            async with services(runtime) if services else nullcontext():
                yield
        finally:
            api.state.runtime = None
            await runtime.aclose()

    api = FastAPI(
        title="FLX API",
        version="1",
        summary="Pipelines, executions, plugins, state, schedules and users of FLX.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_url="/openapi.json" if include_api else None,
        docs_url="/docs" if include_api else None,
        redoc_url=None,
    )
    api.state.runtime = None
    api.state.checks = []
    api.state.limits = rate_limits
    api.state.settings = settings
    install_problem_handlers(api)
    document_problems(api)
    api.include_router(health_router)
    if include_api:
        for router in API_ROUTERS:
            api.include_router(router, prefix=API_PREFIX)
    # Added last runs first: security headers wrap everything, then CORS, the rate limit
    # and the body size limit.
    api.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.api_max_body_bytes)
    api.add_middleware(RateLimitMiddleware, limits=rate_limits, rate=settings.api_rate_limit)
    if settings.api_cors_origins:
        api.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-Match",
                "Idempotency-Key",
                "Last-Event-ID",
            ],
            expose_headers=[
                "ETag",
                "Location",
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
    api.add_middleware(SecurityHeadersMiddleware)
    return api
