"""The FLX process inside one worker pool child: built on its first task, then kept.

A Celery prefork worker forks its pool children from the main process. Nothing of FLX is
built before the fork (a database engine or an event loop copied into a child would share
sockets with its siblings); each child builds its own runtime (the composition root's
``bootstrap`` of a ``worker`` process, which `flx worker` hands down) and event loop when
its first task comes, and runs every later task on them, one at a time.

Two things tie a child to its worker's main process:
  - it dies with it: the kernel sends it SIGKILL when the main process dies, even by
    kill -9 (PR_SET_PDEATHSIG), and its tap and target die with it in turn (they have the
    same setting on the child), so a lost worker leaves no process behind;
  - SIGTERM stops its run: the run ends ``failed`` with the reason, its processes are
    stopped and its end recorded (the main process sends it after the shutdown grace); an
    idle child just exits.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from flx_core.domain.ports import RunRequest
from flx_observability.tracing import flush_traces

#: Builds the FLX process of a pool child (the composition root's ``bootstrap`` of a
#: ``worker`` process, handed down by `flx worker`); what it returns has ``executor``
#: (a CeleryExecutor) and ``aclose()``.
BuildRuntime = Callable[[], Awaitable[Any]]

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1  # linux/prctl.h

#: Why a run ends when its worker stops before it does.
SHUTDOWN_REASON = "worker shut down before the run ended (it was stopped, not lost)"


def die_with(parent: int) -> None:
    """Have the kernel SIGKILL this process when ``parent`` (its creator) dies; if it died
    already, die now. Linux only; elsewhere a lost worker's children are found by the
    reaper through their stopped heartbeats."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(
        ctypes.c_ulong(_PR_SET_PDEATHSIG),
        ctypes.c_ulong(signal.SIGKILL),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    if os.getppid() != parent:  # it died before the setting took effect
        os.kill(os.getpid(), signal.SIGKILL)


class WorkerChild:
    """The runtime and event loop of one pool child (none in the main process)."""

    def __init__(self, build: BuildRuntime) -> None:
        self.build = build
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runtime: Any = None
        #: The process the runtime belongs to: a copy inherited through a fork is not used.
        self._owner: int | None = None
        #: Set by SIGTERM during a task: its run is stopped even if the signal came before
        #: the run existed (while the runtime was being built).
        self._stop_reason: str | None = None

    def init_process(self, main_pid: int) -> None:
        """Called in each new pool child (Celery's ``worker_process_init``)."""
        die_with(main_pid)

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        # Runs between two bytecodes of the main thread, which is the event loop's, maybe
        # in the middle of a write to the log: hand everything over to the loop.
        self.stop_runs(SHUTDOWN_REASON)

    def stop_runs(self, reason: str) -> None:
        """Stop this child's runs; each ends failed with ``reason``."""
        self._stop_reason = reason
        loop = self._loop
        if self._runtime is not None and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._cancel_runs, reason)

    def _cancel_runs(self, reason: str) -> None:
        executor: Any = self._runtime.executor
        log.warning("worker_child_stopping", pid=os.getpid(), runs=executor.active)
        executor.cancel_all(reason)

    def run(self, payload: dict[str, Any]) -> str:
        """Run the execution ``payload`` describes (a RunRequest as JSON) to its end, in
        this process; its final status."""
        request = RunRequest.model_validate(payload)
        if self._owner != os.getpid():
            self._loop, self._runtime, self._owner = asyncio.new_event_loop(), None, os.getpid()
            asyncio.set_event_loop(self._loop)
        assert self._loop is not None
        # Installed for the run only: the pool sets its own handler after the child's
        # initialisation, and an idle child may as well just exit on SIGTERM.
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            execution = self._loop.run_until_complete(self._execute(request))
        finally:
            signal.signal(signal.SIGTERM, previous)
            # A pool child may end without running exit hooks: the run's spans go now.
            flush_traces()
            # A SIGTERM stops the run it came during, not the child's later ones.
            self._stop_reason = None
        return str(execution.status.value)

    async def _execute(self, request: RunRequest) -> Any:
        if self._runtime is None:
            self._runtime = await self.build()
            log.info("worker_child_ready", pid=os.getpid())
        executor: Any = self._runtime.executor
        if self._stop_reason is not None:
            # Runs once execute() has registered the run (before its first wait).
            asyncio.get_running_loop().call_soon(self._cancel_runs, self._stop_reason)
        return await executor.execute(request)

    def close(self) -> None:
        """Close the runtime (database connections) as the child exits."""
        loop, runtime = self._loop, self._runtime
        if self._owner != os.getpid() or loop is None or loop.is_closed():
            return
        try:
            if runtime is not None:
                loop.run_until_complete(runtime.aclose())
        finally:
            self._runtime = None
            loop.close()
