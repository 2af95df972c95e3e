"""One router per resource under ``/api/v1``, and the health router at the root."""

from fastapi import APIRouter

from flx_api.health import router as health_router
from flx_api.routes import (
    auth,
    events,
    executions,
    extensions,
    pipelines,
    plugins,
    schedules,
    state,
    streams,
    users,
)

API_ROUTERS: list[APIRouter] = [
    auth.router,
    users.router,
    pipelines.router,
    executions.router,
    streams.router,
    plugins.router,
    state.router,
    schedules.router,
    extensions.router,
    events.router,
]

__all__ = ["API_ROUTERS", "health_router"]
