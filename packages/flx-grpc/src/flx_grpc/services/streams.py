"""ExecutionService's streams: StreamLogs follows a run's log to its end, Watch streams the
domain events the caller may read for the subscriptions the client sends.

Both read through the same application queries as the REST API's Server-Sent Events
(``ReadExecutionLog``; ``ReadEventFeed`` through ``EventFollower``), one short query per
poll, the caller's token checked again every minute. A client's deadline ends them (gRPC
cancels the call); each poll's query ends normally even then.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeAlias

from grpc import aio

from flx_core.application import EventFollower
from flx_core.domain.ports import StoredEvent
from flx_grpc._caller import build, current
from flx_grpc._convert import to_proto
from flx_grpc._errors import RpcFailure, invalid_field
from flx_grpc._generated.flx.v1 import (
    event_service_pb2,
    execution_service_pb2 as pb,
    execution_service_pb2_grpc,
    types_pb2,
)
from flx_grpc.services.executions import (
    LOG_READ_BYTES,
    ExecutionUnaryMethods,
    decoded,
    offset_of,
)
from flx_meltano import ExecutionLog, ReadExecutionLog

Context: TypeAlias = aio.ServicerContext[Any, Any]

#: How often a log stream reads the log again once it has caught up.
LOG_POLL_SECONDS = 0.3
#: How often Watch reads the event table again once it has caught up.
EVENTS_POLL_SECONDS = 0.3
#: The longest subscription id.
MAX_SUBSCRIPTION_ID = 128


async def _pause(seconds: float, context: Context) -> None:
    """Wait before the next poll, no longer than the call's deadline leaves."""
    left = context.time_remaining()
    await asyncio.sleep(seconds if left is None else max(0.0, min(seconds, left)))


def matches(subscription: pb.Subscribe, event: StoredEvent) -> bool:
    """Whether ``event`` is one ``subscription`` asks for (each filter given must hold)."""
    if subscription.event_types and event.event_type not in subscription.event_types:
        return False
    if subscription.aggregate_ids and event.aggregate_id not in subscription.aggregate_ids:
        return False
    if subscription.pipelines:
        name = event.payload.get("pipeline_name")
        if name is None and event.event_type.startswith("Pipeline"):
            name = event.payload.get("name")
        if name not in subscription.pipelines:
            return False
    return True


class Subscriptions:
    """What a Watch client asked for so far."""

    def __init__(self) -> None:
        self.active: dict[str, pb.Subscribe] = {}

    def apply(self, request: pb.WatchRequest) -> None:
        if request.HasField("subscribe"):
            sid = request.subscribe.subscription_id
            if not 0 < len(sid) <= MAX_SUBSCRIPTION_ID:
                raise invalid_field(
                    "subscribe.subscription_id",
                    f"give an id of 1 to {MAX_SUBSCRIPTION_ID} characters",
                )
            self.active[sid] = request.subscribe
        elif request.HasField("unsubscribe"):
            self.active.pop(request.unsubscribe.subscription_id, None)
        else:
            raise invalid_field("action", "send subscribe or unsubscribe")

    def matching(self, event: StoredEvent) -> list[str]:
        return [sid for sid, sub in self.active.items() if matches(sub, event)]


class ExecutionServicer(ExecutionUnaryMethods, execution_service_pb2_grpc.ExecutionServiceServicer):
    async def StreamLogs(
        self, request: pb.StreamLogsRequest, context: Context
    ) -> AsyncIterator[pb.StreamLogsResponse]:
        caller = current()
        answer: ExecutionLog = await caller.ask(
            build(
                ReadExecutionLog,
                execution_id=request.execution_id,
                offset=offset_of(request.offset),
                limit=LOG_READ_BYTES,
            )
        )
        execution_id = answer.execution.id
        carried = b""  # the start of a character cut at the end of the previous read
        while True:
            data = carried + answer.chunk.data
            start = answer.chunk.offset - len(carried)
            text, used = decoded(data, final=answer.complete)
            carried = data[used:]
            if text:
                chunk = pb.LogChunk(data=text, offset=start, next_offset=start + used)
                yield pb.StreamLogsResponse(chunk=chunk)
            if answer.complete:
                yield pb.StreamLogsResponse(end=to_proto(answer.execution, types_pb2.Execution))
                return
            if answer.size is None or answer.chunk.next_offset >= answer.size:
                await _pause(LOG_POLL_SECONDS, context)
            answer = await caller.ask(
                ReadExecutionLog(
                    execution_id=execution_id,
                    offset=answer.chunk.next_offset,
                    limit=LOG_READ_BYTES,
                )
            )

    async def Watch(
        self, request_iterator: AsyncIterator[pb.WatchRequest], context: Context
    ) -> AsyncIterator[pb.WatchResponse]:
        """The first request is read before ``ready`` is sent: a client that waits for
        ``ready`` knows its first subscription is in place."""
        caller = current()
        subscriptions = Subscriptions()
        try:
            first = await anext(aiter(request_iterator))
        except StopAsyncIteration:
            return
        subscriptions.apply(first)
        follower = EventFollower(caller.ask, None)
        await follower.poll()
        yield pb.WatchResponse(ready=pb.WatchReady(position=follower.position or 0))
        reader = asyncio.create_task(_read(request_iterator, subscriptions))
        try:
            async for event, ids in _matching(follower, subscriptions, reader, context):
                message = to_proto(event, event_service_pb2.Event)
                yield pb.WatchResponse(event=pb.WatchEvent(subscription_ids=ids, event=message))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader


async def _read(requests: AsyncIterator[pb.WatchRequest], subscriptions: Subscriptions) -> None:
    async for request in requests:
        subscriptions.apply(request)


async def _matching(
    follower: EventFollower,
    subscriptions: Subscriptions,
    reader: asyncio.Task[None],
    context: Context,
) -> AsyncIterator[tuple[StoredEvent, list[str]]]:
    while True:
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            failure = reader.exception()
            raise (
                failure
                if isinstance(failure, RpcFailure)
                else RpcFailure("invalid", "the request stream failed")
            )
        for event in await follower.poll():
            ids = subscriptions.matching(event)
            if ids:
                yield event, ids
        if follower.caught_up:
            await _pause(EVENTS_POLL_SECONDS, context)
