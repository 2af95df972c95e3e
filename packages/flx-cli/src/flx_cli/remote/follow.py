"""Following a run on a server: its live log over Server-Sent Events, its progress from
the execution record, until it ends.

Stands for the executor of a local CLI (``runtime.executor``): ``wait`` follows, ``cancel``
answers False so the command asks the server to cancel (``CancelExecution``, POST
``/executions/{id}/cancel``), as it does for a run on a worker. The log stream
(``/executions/{id}/logs/stream``) ends with the final execution; a dropped stream resumes
after the last offset it delivered (``Last-Event-ID``). The execution is read every
``POLL_SECONDS`` for the live view (records per stream, state commits, warnings), and is
what ends the wait if the server offers no stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from flx_cli.remote.client import RemoteClient, problem_of
from flx_cli.remote.errors import RemoteError

#: How often the execution is read while the run goes (the server's heartbeats record its
#: progress every few seconds; this stays well inside the API's rate limit).
POLL_SECONDS = 1.0
#: Once the execution is over, how long the log stream may take to deliver its tail.
DRAIN_SECONDS = 3.0
#: Reconnections of a dropped log stream before following by polling alone.
STREAM_RETRIES = 5


class ProgressFeed:
    """Tells an observer (any subset of the ``RunObserver`` callbacks) what changed between
    two readings of the execution: started, warnings, state commits, records."""

    def __init__(self, observer: Any) -> None:
        self.observer = observer
        self._started = False
        self._warned: set[str] = set()
        self._commits = 0
        self._waiting = ""

    def tell(self, execution: Any) -> None:
        status = execution.status.value
        if status == "queued" and execution.pid:
            reason = str(execution.details.get("waiting") or "waiting for its turn")
            if reason != self._waiting:
                self._waiting = reason
                self._call("waiting", reason)
        ran = status == "running" or (execution.status.is_terminal and execution.exit_codes)
        if not self._started and ran:
            self._started = True
            self._call("started", execution)
        for message in execution.warnings:
            if message not in self._warned:
                self._warned.add(message)
                self._call("warning", message)
        while self._commits < execution.state_commits:
            self._commits += 1
            self._call("state_committed", self._commits)
        if self._started:
            end = execution.finished_at or datetime.now(UTC)
            start = execution.started_at
            elapsed = max((end - start).total_seconds(), 0.0) if start else 0.0
            self._call(
                "progress",
                dict(execution.stream_counts),
                execution.bytes,
                execution.state_commits,
                elapsed,
            )

    def finished(self, execution: Any) -> None:
        self._call("finished", execution, None)

    def _call(self, name: str, *args: Any) -> None:
        """A failing observer is dropped: showing a run must never break following it."""
        callback = getattr(self.observer, name, None)
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            self.observer = None


def log_printer(observer: Any) -> Callable[[str], None]:
    """Where log text goes: above a live view (its console), else to stderr."""
    console = getattr(observer, "console", None)
    if console is not None:
        return lambda text: console.print(text, end="", markup=False, highlight=False)

    def write(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    return write


class RemoteFollower:
    """The executor of a remote CLI: it follows runs; the server runs them."""

    def __init__(self, client: RemoteClient, *, show_log: bool = False) -> None:
        self.client = client
        #: Print the run's log as it comes (``flx -v``); the live view alone otherwise,
        #: as for a run in this process.
        self.show_log = show_log

    def submit(self, request: Any) -> None:
        raise RemoteError("running a queued execution here is not available against a server")

    def cancel(self, execution_id: str, reason: str | None = None) -> bool:
        """False: the run is not in this process (the caller then sends CancelExecution)."""
        return False

    async def wait(self, execution_id: str, observer: Any = None) -> Any:
        """Follow the execution to its end; the final execution."""
        feed = ProgressFeed(observer)
        on_text = log_printer(observer) if self.show_log else None
        stream = asyncio.create_task(self._stream(execution_id, on_text))
        try:
            while True:
                execution = await self._get(execution_id)
                feed.tell(execution)
                if execution.status.is_terminal:
                    break
                ended = stream.result()[0] if stream.done() else None
                if ended is not None and ended.status.is_terminal:
                    execution = ended
                    feed.tell(execution)
                    break
                if stream.done():  # no stream: following by polling alone
                    await asyncio.sleep(POLL_SECONDS)
                else:
                    await asyncio.wait({stream}, timeout=POLL_SECONDS)
            if not stream.done():  # the tail of the log
                await asyncio.wait({stream}, timeout=DRAIN_SECONDS)
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError, RemoteError):
                await stream
        feed.finished(execution)
        return execution

    async def _get(self, execution_id: str) -> Any:
        from flx_core.domain import NotFound, PipelineExecution

        response = await self.client.request("GET", f"/executions/{execution_id}")
        if response.status_code == 404:
            raise NotFound(problem_of(response)[0])
        if response.status_code >= 400:
            raise RemoteError(problem_of(response)[0])
        return PipelineExecution.model_validate(response.json())

    async def follow_log(
        self, execution_id: str, offset: int, write: Callable[[str], None]
    ) -> tuple[Any, int]:
        """Write the log from byte ``offset`` on as it comes, until the execution ends:
        ``(the final execution, the offset reached)``; the execution is None when the
        server offers no stream (or it kept failing): read on from the offset otherwise."""
        return await self._stream(execution_id, write, offset)

    async def _stream(
        self, execution_id: str, on_text: Callable[[str], None] | None, offset: int = 0
    ) -> tuple[Any, int]:
        """Read the log stream to its end: the final execution it carries (None when the
        server has no stream for it: the wait then ends by polling) and the byte offset
        reached (each event's id is the offset after it)."""
        from flx_core.domain import PipelineExecution

        for _ in range(STREAM_RETRIES):
            try:
                async with self.client.event_stream(
                    f"/executions/{execution_id}/logs/stream", last_event_id=str(offset)
                ) as source:
                    content_type = source.response.headers.get("content-type", "")
                    if source.response.status_code != 200 or "event-stream" not in content_type:
                        return None, offset
                    async for event in source.aiter_sse():
                        if event.event == "log" and on_text is not None:
                            on_text(event.data)
                        if event.id and event.id.isdigit():
                            offset = int(event.id)
                        if event.event == "end":
                            data = event.data.strip()
                            ended = PipelineExecution.model_validate_json(data) if data else None
                            return ended, offset
                        if event.event == "problem":
                            break  # e.g. the token expired: reconnect with a fresh one
            except (RemoteError, ValidationError):
                pass  # dropped or garbled: resume after the last offset
            await asyncio.sleep(POLL_SECONDS)
        return None, offset
