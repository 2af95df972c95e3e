"""``/health/live`` (the process answers) and ``/health/ready`` (what it depends on answers:
the database, and Redis and the broker when configured)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from flx_observability import HealthCheck, run_check

#: A named probe that raises when what it checks is not usable (the health framework's).
ReadinessCheck = HealthCheck


class CheckResult(BaseModel):
    name: str
    status: Literal["ok", "failing"]
    duration_ms: float
    error: str | None = None


class Health(BaseModel):
    status: Literal["ok", "failing"]
    checks: list[CheckResult] = []


router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Health)
async def live() -> Health:
    return Health(status="ok")


async def _run(check: ReadinessCheck) -> CheckResult:
    found = await run_check(check)
    return CheckResult(
        name=found.name,
        status="ok" if found.ok else "failing",
        duration_ms=round(found.seconds * 1000, 1),
        error=None if found.ok else found.detail,
    )


@router.get(
    "/health/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is failing"}},
)
async def ready(request: Request) -> JSONResponse:
    if getattr(request.app.state, "runtime", None) is None:
        body = Health(status="failing", checks=[])
        return JSONResponse(body.model_dump(mode="json"), status_code=503)
    results = await asyncio.gather(*(_run(c) for c in request.app.state.checks))
    status: Literal["ok", "failing"] = "ok" if all(r.status == "ok" for r in results) else "failing"
    body = Health(status=status, checks=list(results))
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if status == "ok" else 503)
