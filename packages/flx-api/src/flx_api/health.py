"""``/health/live`` (the process answers) and ``/health/ready`` (what it depends on answers:
the database, and Redis and the broker when configured)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from flx_core.domain import mask_inline_secrets


@dataclass(frozen=True)
class ReadinessCheck:
    """A named probe; it raises when what it checks is not usable."""

    name: str
    probe: Callable[[], Awaitable[object]]
    timeout: float = 3.0


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
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check.probe(), check.timeout)
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, TimeoutError):
            text = f"no answer within {check.timeout:g} s"
        return CheckResult(
            name=check.name,
            status="failing",
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            error=mask_inline_secrets(text),
        )
    return CheckResult(
        name=check.name, status="ok", duration_ms=round((time.perf_counter() - started) * 1000, 1)
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
