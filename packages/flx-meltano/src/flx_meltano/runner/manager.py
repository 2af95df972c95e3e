"""Supervision of a started run: the first failure wins, then everything is stopped.

The watchers (one per process exit, the relay, the state delivery) are gathered so that
the first one to raise ends the wait at once, as ``FIRST_EXCEPTION`` does; a cancel event
and the run's timeout race them. What follows depends on how the run ended:

- the tap failed, or cut its last line: the target's stdin is closed (the relay has
  reached end of file) and downstream gets the grace period to finish, so the states it
  emits for data it has written still count;
- anything else failed, the run was cancelled or timed out: all process groups get
  SIGTERM, then SIGKILL after the grace period.

Either way every process group is gone before the result is built.
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum, auto
from typing import Any

import structlog

from flx_meltano.runner.blockset import BlockSet
from flx_meltano.runner.errors import ProcessFailed, RunFailure, TruncatedOutputError
from flx_meltano.runner.logsink import LogSink, StderrLog
from flx_meltano.runner.outputs import OutputReader
from flx_meltano.runner.process import ProcessBlock
from flx_meltano.runner.progress import ProgressReporter
from flx_meltano.runner.relay import Relay
from flx_meltano.runner.spec import RunSpec
from flx_meltano.runner.target_states import TargetStateReader
from flx_meltano.runner.threads import run_in_thread

logger = structlog.get_logger(__name__)

MIN_DRAIN = 5.0


class Ending(Enum):
    FINISHED = auto()
    FAILED = auto()
    CANCELLED = auto()
    TIMED_OUT = auto()


class RunManager:
    def __init__(
        self, spec: RunSpec, blocks: BlockSet, sink: LogSink, cancel: asyncio.Event
    ) -> None:
        self.spec = spec
        self.blocks = blocks
        self.sink = sink
        self._cancel = cancel
        self._started = time.monotonic()
        self.relay: Relay | None = None
        self.states: TargetStateReader | None = None
        self.stderr: dict[str, StderrLog] = {}
        self.relay_done: asyncio.Future[None] | None = None
        self.delivered: asyncio.Task[None] | None = None
        self._settled: set[str] = set()
        self._drained = False

    async def execute(self) -> tuple[Ending, RunFailure | None]:
        """Start the processes, supervise them, stop them; return how the run ended."""
        loop = asyncio.get_running_loop()
        wiring = self.blocks.start()
        self._started = time.monotonic()
        pids = ", ".join(f"{b.name} (pid {b.pid})" for b in self.blocks.blocks)
        self.sink.event(f"started {pids}")
        outputs = OutputReader()
        for name, fd in wiring.stderr.items():
            self.stderr[name] = StderrLog(name, self.sink)
            outputs.add(fd, self.stderr[name])
        target = self.blocks.target.name
        self.states = TargetStateReader(loop, self.spec.on_state, source=target, sink=self.sink)
        outputs.add(wiring.target_stdout, self.states)
        self.relay = Relay(
            wiring.tap_stdout,
            wiring.downstream_stdin,
            source=self.blocks.tap.name,
            sink=self.blocks.downstream[0].name,
        )
        # The relay starts last: once it runs, starting a thread waits for the GIL.
        io = [run_in_thread(outputs.run, name="flx-outputs")]
        self.delivered = asyncio.create_task(self.states.deliver())
        self.relay_done = run_in_thread(self.relay.run, name="flx-relay")
        io += [self.relay_done, self.delivered]
        progress = ProgressReporter(self.spec, self.relay, self.states, self._started)
        progress.start()
        try:
            ending, failure = await self._supervise()
            self._settled = {b.name for b in self.blocks.blocks if b.poll() is not None}
            await self._wind_down(ending, failure)
        except BaseException:
            self.blocks.kill_now()
            raise
        finally:
            await self._drain(io)
            await progress.stop()
        return ending, failure

    def failed_processes(self, failures: list[BaseException]) -> list[ProcessBlock]:
        """Processes that exited non-zero on their own and are not a consequence of the
        first failure: those that had ended when it was seen, those it names, and
        downstream, when it was given time to finish after the tap failed. (A tap that
        dies writing to a target that has just failed is not worth reporting.)"""
        relevant = set(self._settled)
        relevant |= {name for f in failures if isinstance(name := getattr(f, "process", None), str)}
        if self._drained:
            relevant |= {b.name for b in self.blocks.downstream}
        return [
            b
            for b in self.blocks.blocks
            if b.exit_code not in (0, None) and not b.signalled and b.name in relevant
        ]

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    async def _supervise(self) -> tuple[Ending, RunFailure | None]:
        assert self.relay_done is not None and self.delivered is not None
        watchers = [self._watch_exit(b) for b in self.blocks.blocks]
        work = asyncio.gather(*watchers, self.relay_done, self.delivered)
        work.add_done_callback(_retrieve)
        cancelled = asyncio.ensure_future(self._cancel.wait())
        racers: list[asyncio.Future[Any]] = [work, cancelled]
        try:
            await asyncio.wait(
                racers, timeout=self.spec.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancelled.cancel()
        if work.done():
            error = work.exception()
            if error is None:
                return Ending.FINISHED, None
            if isinstance(error, RunFailure):
                return Ending.FAILED, error
            raise error
        if cancelled.done() and not cancelled.cancelled():
            return Ending.CANCELLED, None
        return Ending.TIMED_OUT, None

    async def _watch_exit(self, block: ProcessBlock) -> None:
        code = await block.exited()
        if code < 0:
            self.sink.event(f"{block.name} was ended by signal {-code}")
        else:
            self.sink.event(f"{block.name} exited with code {code}")
        if code != 0:
            raise ProcessFailed(block.name, code)

    async def _wind_down(self, ending: Ending, failure: RunFailure | None) -> None:
        grace = self.spec.grace_period
        if ending is Ending.FAILED and self._upstream_failure(failure):
            self.sink.event(f"{failure}; letting downstream finish (up to {grace:g} s)")
            self._drained = True
            await self.blocks.tap.stop(grace)
            downstream = [b.exited() for b in self.blocks.downstream]
            await asyncio.wait(downstream, timeout=grace)
        elif ending is Ending.FAILED:
            self.sink.event(f"{failure}; stopping all processes")
        elif ending is Ending.CANCELLED:
            self.sink.event("cancelled; stopping all processes")
        elif ending is Ending.TIMED_OUT:
            self.sink.event(f"timed out after {self.spec.timeout:g} s; stopping all processes")
        await self.blocks.terminate(grace)

    def _upstream_failure(self, failure: RunFailure | None) -> bool:
        if isinstance(failure, TruncatedOutputError):
            return True
        return isinstance(failure, ProcessFailed) and failure.process == self.blocks.tap.name

    async def _drain(self, io: list[asyncio.Future[None]]) -> None:
        """Let the IO threads and the state delivery finish, bounded: a process that escaped
        its group could hold a pipe open forever."""
        done, pending = await asyncio.wait(io, timeout=max(self.spec.grace_period, MIN_DRAIN))
        for future in done:
            error = None if future.cancelled() else future.exception()
            if error is not None and future not in (self.relay_done, self.delivered):
                logger.error("reading the run's output failed", error=repr(error))
        if pending:
            logger.warning("run IO still busy after the processes ended", pending=len(pending))
            if self.delivered is not None:
                self.delivered.cancel()


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
