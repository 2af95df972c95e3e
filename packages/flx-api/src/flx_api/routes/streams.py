"""Live streams as Server-Sent Events: an execution's log as it is written, and the domain
events as they are recorded.

Both poll the database, one short query on the bus per poll (no transaction stays open
between polls): runs happen in other processes (workers) and a server may run several
uvicorn workers, so the tables are where every writer meets every reader.

Reading them:

- An event's ``id`` is where to resume. A client that reconnects sends it back as the
  ``Last-Event-ID`` header (EventSource does so by itself) and gets only what came after.
- An event's ``data`` may span several ``data:`` lines: join their values with a line feed
  (as EventSource and the SSE specification do; a trailing empty ``data:`` line is a text
  that ends with a line feed). The ``data`` of the ``log`` events, concatenated in order,
  is the log's text. Log lines hold no carriage return (the runner strips it from line
  ends); one inside a line would arrive as a line break.
- Lines starting with ``:`` are keep-alive comments.
- A stream whose caller's token expires or is revoked ends with a ``problem`` event (a
  problem document); reconnect with a fresh token and ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from flx_api.deps import Bus, Dispatcher
from flx_api.problems import TITLES, ApiProblem, FieldError, Problem, problem_responses
from flx_api.routes.events import MAX_POSITION
from flx_api.routes.executions import MAX_OFFSET, decoded
from flx_auth import TokenRejected, authenticate
from flx_core.application import EventFollower, Message
from flx_core.domain import DomainError, mask_inline_secrets
from flx_core.domain.ports import StoredEvent
from flx_meltano import ExecutionLog, ReadExecutionLog

router = APIRouter(tags=["streams"], responses=problem_responses(401, 403, 404, 422, 429))

#: How often a log stream reads the log again once it has caught up.
LOG_POLL_SECONDS = 0.3
#: How often an event stream reads the event table again once it has caught up.
EVENTS_POLL_SECONDS = 0.5
#: The most one ``log`` event carries.
LOG_EVENT_BYTES = 256 * 1024
#: Keep-alive comments, so that proxies keep a quiet stream open.
PING_SECONDS = 15
#: How often a stream checks its caller's token again.
RECHECK_SECONDS = 60.0
#: The longest one poll may take (it runs to its end even when the client has gone).
QUERY_SECONDS = 30.0
#: A client that reads nothing for that long is dropped.
SEND_SECONDS = 60.0


class EventStream(EventSourceResponse):
    """``text/event-stream``: the media type the OpenAPI document shows."""

    media_type = "text/event-stream"


LastEventId = Annotated[
    str | None,
    Header(description="The id of the last event received: the stream resumes after it"),
]


def resume_at(last_event_id: str | None, fallback: int | None, most: int) -> int | None:
    """Where a stream resumes: after ``Last-Event-ID`` when sent (a reconnect), else after
    what the query asks for."""
    if last_event_id is None or not last_event_id.strip():
        return fallback
    value = last_event_id.strip()
    if not value.isdigit() or int(value) > most:
        message = f"must be an event id this stream sent (a number up to {most}), not {value!r}"
        raise ApiProblem(
            422,
            "invalid",
            f"header.last-event-id: {message}",
            errors=[FieldError(field="header.last-event-id", message=message)],
        )
    return int(value)


class StreamCaller:
    """The caller of a stream, whose token is checked again every ``RECHECK_SECONDS``: a
    stream outlives the request that opened it, and ends when the token expires or is
    revoked or the user is disabled; a change of roles applies to it."""

    def __init__(self, request: Request, bus: Dispatcher) -> None:
        self._token = (request.headers.get("authorization") or "").partition(" ")[2].strip()
        self._bus = bus
        self._checked = time.monotonic()

    async def _current(self) -> Dispatcher:
        if time.monotonic() - self._checked < RECHECK_SECONDS:
            return self._bus
        try:
            principal = await authenticate(self._bus.app, self._token)
        except TokenRejected as exc:
            raise ApiProblem(
                401, "unauthenticated", exc.message, details={"reason": exc.reason.value}
            ) from None
        except DomainError as exc:
            raise ApiProblem(401, "unauthenticated", exc.message) from None
        self._bus = Dispatcher(self._bus.app, principal)
        self._checked = time.monotonic()
        return self._bus

    async def ask(self, message: Message) -> Any:
        """Send one poll's query. It is shielded from the client's leaving, so that its
        transaction ends normally instead of being cut in the middle."""
        with anyio.fail_after(QUERY_SECONDS, shield=True):
            return await (await self._current())(message)


def problem_event(problem: ApiProblem) -> ServerSentEvent:
    body = Problem(
        type=f"urn:flx:problem:{problem.code}",
        title=TITLES.get(problem.status, "Error"),
        status=problem.status,
        detail=mask_inline_secrets(problem.detail),
        code=problem.code,
        details=problem.details or None,
    )
    return ServerSentEvent(body.model_dump_json(exclude_none=True), event="problem")


def event_stream(events: AsyncIterator[ServerSentEvent]) -> EventStream:
    return EventStream(events, ping=PING_SECONDS, send_timeout=SEND_SECONDS)


def _event(name: dict[str, Any], data: dict[str, Any], *, with_id: bool) -> dict[str, Any]:
    """The schema of one kind of event (OpenAPI 3.1 reads an event stream's schema as one
    event's: its ``event``, ``id`` and ``data`` fields)."""
    fields = {"event": name, "data": data}
    if with_id:
        fields["id"] = {"type": "string", "pattern": "^[0-9]+$"}
    return {"type": "object", "properties": fields, "required": list(fields)}


def _json(schema: str | dict[str, Any]) -> dict[str, Any]:
    """Text holding JSON of a component (by name) or of an inline schema."""
    content = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"type": "string", "contentMediaType": "application/json", "contentSchema": content}


_PROBLEM_EVENT = _event({"const": "problem"}, _json("Problem"), with_id=False)


def _stream_responses(*events: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": "Server-Sent Events",
            "content": {
                "text/event-stream": {
                    # "type" replaces the "string" FastAPI gives a response that is not JSON.
                    "schema": {"type": "object", "anyOf": [*events, _PROBLEM_EVENT]}
                }
            },
        }
    }


@router.get(
    "/executions/{execution_id}/logs/stream",
    response_class=EventStream,
    response_model=None,
    responses=_stream_responses(
        _event({"const": "log"}, {"type": "string"}, with_id=True),
        _event({"const": "end"}, _json("PipelineExecution"), with_id=True),
    ),
)
async def stream_execution_log(
    execution_id: str,
    request: Request,
    bus: Bus,
    offset: Annotated[
        int | None, Query(ge=0, le=MAX_OFFSET, description="Byte offset to start from")
    ] = None,
    last_event_id: LastEventId = None,
) -> EventStream:
    """The run's log as it is written. ``event: log`` carries text, its ``id`` the byte
    offset after it; ``event: end`` carries the finished execution (JSON) once it is over
    and its whole log was sent, and the stream closes (a client stops there rather than
    reconnecting)."""
    caller = StreamCaller(request, bus)
    start = resume_at(last_event_id, offset, MAX_OFFSET) or 0
    first: ExecutionLog = await caller.ask(
        ReadExecutionLog(execution_id=execution_id, offset=start, limit=LOG_EVENT_BYTES)
    )
    return event_stream(_log_events(caller, first))


async def _log_events(caller: StreamCaller, answer: ExecutionLog) -> AsyncIterator[ServerSentEvent]:
    execution_id = answer.execution.id
    carried = b""  # the start of a character cut at the end of the previous read
    try:
        while True:
            data = carried + answer.chunk.data
            start = answer.chunk.offset - len(carried)
            text, used = decoded(data, final=answer.complete)
            carried = data[used:]
            if text:
                yield ServerSentEvent(text, event="log", id=str(start + used))
            if answer.complete:
                end = answer.execution.model_dump_json()
                yield ServerSentEvent(end, event="end", id=str(start + used))
                return
            if answer.size is None or answer.chunk.next_offset >= answer.size:
                await anyio.sleep(LOG_POLL_SECONDS)
            answer = await caller.ask(
                ReadExecutionLog(
                    execution_id=execution_id,
                    offset=answer.chunk.next_offset,
                    limit=LOG_EVENT_BYTES,
                )
            )
    except ApiProblem as problem:
        yield problem_event(problem)


@router.get(
    "/events/stream",
    response_class=EventStream,
    response_model=None,
    responses=_stream_responses(
        _event(
            {"const": "ready"},
            _json({"type": "object", "properties": {"position": {"type": "integer"}}}),
            with_id=True,
        ),
        _event({"type": "string", "pattern": "^[A-Z]"}, _json("StoredEvent"), with_id=True),
    ),
)
async def stream_events(
    request: Request,
    bus: Bus,
    after: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_POSITION,
            description="Start after this event position (default: from now on)",
        ),
    ] = None,
    last_event_id: LastEventId = None,
) -> EventStream:
    """Domain events as they are recorded, only those the caller may read (pipeline
    events need pipeline:read, execution events execution:read, plugin events plugin:read,
    user, login and session events user:read, any other audit:read). ``event`` is the
    event type, ``id`` its position, ``data`` the stored event (JSON). It goes on until
    the client leaves.

    The first event, ``ready``, names the position the stream follows from (``id`` and
    ``data: {"position": N}``): a client that reconnects before any other event came
    resumes there, and misses nothing recorded meanwhile."""
    caller = StreamCaller(request, bus)
    start = resume_at(last_event_id, after, MAX_POSITION)
    follower = EventFollower(caller.ask, start)
    first = await follower.poll()
    origin = start if start is not None else follower.position or 0
    return event_stream(_domain_events(follower, origin, first))


async def _domain_events(
    follower: EventFollower, origin: int, events: list[StoredEvent]
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(json.dumps({"position": origin}), event="ready", id=str(origin))
    try:
        while True:
            for event in events:
                yield ServerSentEvent(
                    event.model_dump_json(), event=event.event_type, id=str(event.position)
                )
            if follower.caught_up:
                await anyio.sleep(EVENTS_POLL_SECONDS)
            events = await follower.poll()
    except ApiProblem as problem:
        yield problem_event(problem)
