"""STATE messages from the target's stdout to the caller, in order.

The output reader thread hands over the target's stdout lines; each STATE value is posted
to the event loop, where a task gives them one by one to the state callback, which may be
a coroutine (committing a state version takes a database round trip). Other lines go to
the log.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import orjson
import structlog

from flx_meltano.runner.errors import StateCallbackError
from flx_meltano.runner.logsink import LogSink
from flx_meltano.runner.spec import StateCallback
from flx_meltano.runner.threads import call_in_loop

logger = structlog.get_logger(__name__)

_END = object()
_NOT_STATE = object()


class TargetStateReader:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: StateCallback | None,
        *,
        source: str,
        sink: LogSink,
    ) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._callback = callback
        self._source = f"{source} (stdout)"
        self._sink = sink
        self.emitted = 0
        self.last: Any = None

    def on_lines(self, lines: list[bytes]) -> None:
        """Reader thread: split STATE messages from the rest."""
        others: list[bytes] = []
        for line in lines:
            if not line.strip():
                continue
            value = _state_value(line)
            if value is _NOT_STATE:
                others.append(line)
            else:
                call_in_loop(self._loop, self._queue.put_nowait, value)
        self._sink.write_lines(self._source, others)

    def on_end(self) -> None:
        call_in_loop(self._loop, self._queue.put_nowait, _END)

    async def deliver(self) -> None:
        """Task body: hand each state to the callback, in order, until the stream ends."""
        while (value := await self._queue.get()) is not _END:
            self.emitted += 1
            self.last = value
            if self._callback is None:
                continue
            try:
                outcome = self._callback(value)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                logger.exception("state callback failed")
                raise StateCallbackError(error) from error


def _state_value(line: bytes) -> Any:
    """The state a target's stdout line carries.

    Singer targets (singer-io's and the Meltano SDK's) print the bare state value, one JSON
    object per line, as Meltano expects; a wrapped ``{"type": "STATE", "value": ...}`` message
    is accepted too. Anything else is logged, not taken for state.
    """
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _NOT_STATE
    if not isinstance(message, dict):
        return _NOT_STATE
    if message.get("type") == "STATE" and "value" in message:
        return message["value"]
    return message
