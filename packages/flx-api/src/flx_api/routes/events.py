"""``/events``: the audit trail (every domain event, who caused it and when), read forward
from a position. ``/events/stream`` follows it live (``routes/streams.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from flx_api.deps import Bus
from flx_api.problems import ApiProblem, FieldError, problem_responses
from flx_api.views import PageOf
from flx_core.application import ListAuditEvents
from flx_core.domain.ports import EventFilter, StoredEvent

router = APIRouter(
    prefix="/events", tags=["events"], responses=problem_responses(401, 403, 422, 429)
)

#: Event positions are 32-bit integers.
MAX_POSITION = 2**31 - 1


def _position(name: str, value: str) -> int:
    if not value.isdigit() or int(value) > MAX_POSITION:
        message = f"must be an event position (a number up to {MAX_POSITION}), not {value!r}"
        raise ApiProblem(
            422,
            "invalid",
            f"query.{name}: {message}",
            errors=[FieldError(field=f"query.{name}", message=message)],
        )
    return int(value)


@router.get("", response_model=PageOf[StoredEvent])
async def list_events(
    bus: Bus,
    aggregate_id: Annotated[
        str | None, Query(description="The pipeline, execution, plugin or user id")
    ] = None,
    event_type: Annotated[str | None, Query(description="PipelineCreated, ...")] = None,
    actor: Annotated[str | None, Query(description="Who caused it (a user's subject)")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Occurred at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="Occurred before")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="Only after this position")
    ] = None,
    cursor: Annotated[
        str | None, Query(description="The previous page's next_cursor (a position, as after)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PageOf[StoredEvent]:
    """Events in the order they were recorded (by position), after ``after``. The next
    page starts after ``next_cursor`` (pass it as ``cursor`` or ``after``); its last
    position is also where ``/events/stream`` can go on from (``Last-Event-ID``)."""
    start = max(after or 0, _position("cursor", cursor) if cursor is not None else 0)
    flt = EventFilter(
        aggregate_id=aggregate_id,
        event_type=event_type,
        actor=actor,
        since=since,
        until=until,
        after=start,
    )
    events: list[StoredEvent] = await bus(ListAuditEvents(filter=flt, limit=limit + 1))
    page = events[:limit]
    more = len(events) > limit
    return PageOf[StoredEvent](
        items=page, next_cursor=str(page[-1].position) if more and page else None
    )
