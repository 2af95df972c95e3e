"""The read-mostly services: ScheduleService, EventService (the audit trail) and
ExtensionService."""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio

from flx_core.application import ListAuditEvents
from flx_core.domain.ports import EventFilter
from flx_grpc._caller import build, current
from flx_grpc._convert import to_proto, to_protos
from flx_grpc._errors import invalid_field
from flx_grpc._generated.flx.v1 import (
    event_service_pb2,
    event_service_pb2_grpc,
    extension_service_pb2,
    extension_service_pb2_grpc,
    schedule_service_pb2,
    schedule_service_pb2_grpc,
)
from flx_grpc.services._base import page_size, when
from flx_meltano import ListSchedules
from flx_plugin import GetExtension, ListExtensions

Context: TypeAlias = aio.ServicerContext[Any, Any]

#: Event positions are 32-bit integers.
MAX_POSITION = 2**31 - 1


class ScheduleServicer(schedule_service_pb2_grpc.ScheduleServiceServicer):
    async def ListSchedules(
        self, request: schedule_service_pb2.ListSchedulesRequest, context: Context
    ) -> Any:
        count = request.count if request.HasField("count") else 3
        if not 0 <= count <= 100:
            raise invalid_field("count", "must be between 0 and 100")
        views = await current()(build(ListSchedules, next_count=count))
        schedules = to_protos(views, schedule_service_pb2.Schedule)
        return schedule_service_pb2.ListSchedulesResponse(schedules=schedules)


def _position(name: str, value: str | int) -> int:
    text = str(value)
    if not text.isdigit() or int(text) > MAX_POSITION:
        raise invalid_field(name, f"must be an event position (a number up to {MAX_POSITION})")
    return int(text)


class EventServicer(event_service_pb2_grpc.EventServiceServicer):
    async def ListEvents(
        self, request: event_service_pb2.ListEventsRequest, context: Context
    ) -> Any:
        limit = page_size(request.page_size, 100, 500)
        start = max(
            _position("after", request.after),
            _position("page_token", request.page_token) if request.page_token else 0,
        )
        flt = build(
            EventFilter,
            aggregate_id=request.aggregate_id if request.HasField("aggregate_id") else None,
            event_type=request.event_type if request.HasField("event_type") else None,
            actor=request.actor if request.HasField("actor") else None,
            since=when(request, "since"),
            until=when(request, "until"),
            after=start,
        )
        events = await current()(build(ListAuditEvents, filter=flt, limit=limit + 1))
        page = events[:limit]
        more = len(events) > limit
        return event_service_pb2.ListEventsResponse(
            events=to_protos(page, event_service_pb2.Event),
            next_page_token=str(page[-1].position) if more and page else "",
        )


class ExtensionServicer(extension_service_pb2_grpc.ExtensionServiceServicer):
    async def ListExtensions(
        self, request: extension_service_pb2.ListExtensionsRequest, context: Context
    ) -> Any:
        found = await current()(ListExtensions())
        extensions = to_protos(found, extension_service_pb2.Extension)
        return extension_service_pb2.ListExtensionsResponse(extensions=extensions)

    async def GetExtension(
        self, request: extension_service_pb2.GetExtensionRequest, context: Context
    ) -> Any:
        info = await current()(build(GetExtension, name=request.name))
        return extension_service_pb2.ExtensionInfo(
            extension=to_proto(info, extension_service_pb2.Extension),
            others=to_protos(info.others, extension_service_pb2.Extension),
        )
