"""``/schedules``: every pipeline with a schedule, its next cron times and its last fire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_meltano import ListSchedules, ScheduleView

router = APIRouter(
    prefix="/schedules",
    tags=["schedules"],
    responses=problem_responses(401, 403, 422, 429),
)


@router.get("", response_model=list[ScheduleView])
async def list_schedules(
    bus: Bus,
    count: Annotated[
        int, Query(ge=0, le=100, description="Next cron times to give per pipeline (UTC)")
    ] = 3,
) -> list[ScheduleView]:
    """Pipelines with a schedule (enabled or not); a disabled one has no next times."""
    views: list[ScheduleView] = await bus(ListSchedules(next_count=count))
    return views
