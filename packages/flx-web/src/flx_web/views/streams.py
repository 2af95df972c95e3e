"""A run's log as it is written, as Server-Sent Events, for the run's page to follow.

As the REST API's stream: each poll is one short query on the bus (runs happen in other
processes, the log store is where writer and reader meet); ``event: log`` carries text and
its ``id`` the byte offset after it (a reconnecting browser sends it back as
``Last-Event-ID``); ``event: end`` says the run is over and its whole log was sent. The
stream checks the user's session again every ``RECHECK_SECONDS`` and ends with
``event: signed-out`` once it is no longer valid.
"""

from __future__ import annotations

import asyncio
import codecs
import json
import time
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from flx_auth import TokenRejected, authenticate
from flx_core.domain import DomainError
from flx_meltano import ExecutionLog, ReadExecutionLog
from flx_web.bus import Caller, Refused
from flx_web.sessions import SESSION_KEY
from flx_web.views.base import caller_of, error_page, page

POLL_SECONDS = 0.3
EVENT_BYTES = 256 * 1024
RECHECK_SECONDS = 60.0
PING_SECONDS = 15.0
MAX_OFFSET = 2**40


def sse(event: str, data: str, event_id: str | None = None) -> bytes:
    """One event; a text of several lines is several ``data:`` lines."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return (head + body + "\n").encode()


def _start(request: HttpRequest) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.GET.get("offset") or "0"
    raw = raw.strip()
    if not raw.isdigit() or int(raw) > MAX_OFFSET:
        return None
    return int(raw)


@page
async def log_stream(request: HttpRequest, execution_id: str) -> HttpResponse:
    bus = caller_of(request)
    start = _start(request)
    if start is None:
        return error_page(request, 422, "offset must be a byte offset (a whole number)")
    first = await bus(ReadExecutionLog(execution_id=execution_id, offset=start, limit=EVENT_BYTES))
    access = (request.session.get(SESSION_KEY) or {}).get("access", "")
    response = StreamingHttpResponse(_events(bus, access, first), content_type="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


async def _still_signed_in(bus: Caller, access: str) -> bool:
    try:
        await authenticate(bus.app, access)
    except (TokenRejected, DomainError):
        return False
    return True


async def _events(bus: Caller, access: str, answer: ExecutionLog) -> AsyncIterator[bytes]:
    try:
        async for event in _log_events(bus, access, answer):
            yield event
    except Refused as exc:
        yield sse("problem", json.dumps({"code": exc.code, "message": exc.message}))


async def _log_events(bus: Caller, access: str, answer: ExecutionLog) -> AsyncIterator[bytes]:
    execution_id = answer.execution.id
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    checked = pinged = time.monotonic()
    while True:
        text = decoder.decode(answer.chunk.data, final=answer.complete)
        offset = answer.chunk.next_offset
        if text:
            yield sse("log", text, str(offset - len(decoder.getstate()[0])))
        if answer.complete:
            yield sse("end", answer.execution.model_dump_json(), str(offset))
            return
        if answer.size is None or offset >= answer.size:
            await asyncio.sleep(POLL_SECONDS)
        now = time.monotonic()
        if now - checked > RECHECK_SECONDS:
            if not await _still_signed_in(bus, access):
                yield sse("signed-out", json.dumps({"reason": "the session ended"}))
                return
            checked = now
        if now - pinged > PING_SECONDS:
            yield b": ping\n\n"
            pinged = now
        answer = await bus(
            ReadExecutionLog(execution_id=execution_id, offset=offset, limit=EVENT_BYTES)
        )
