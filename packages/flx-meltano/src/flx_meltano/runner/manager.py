"""Supervision of a started run: the first failure ends the wait, then everything is stopped.

The watchers (one per process exit, the relay, the state delivery) are gathered so that
the first one to raise ends the wait at once, as ``FIRST_EXCEPTION`` does; a cancel event
and the run's timeout race them.

Which watcher raises first is up to the machine: when a target fails while the tap is
writing, the relay's broken pipe, the target's exit and the tap's own broken pipe (once
the relay has closed its end) can reach the event loop in any order. So the first failure
only says where the pipeline broke; the processes downstream of that point get the grace
period to end on their own, those upstream are stopped:

- a process failed: those before it are stopped, those after it get the grace period to
  finish (the states they emit for data they have written still count);
- the relay saw a broken pipe or a cut last line: the tap is stopped, every downstream
  process gets the grace period;
- the state callback failed, the run was cancelled or timed out: all process groups get
  SIGTERM, then SIGKILL after the grace period.

Either way every process group is gone before the result is built, and the cause is read
from what happened, not from the order it was noticed in (see :meth:`RunManager.failures`).
"""

from __future__ import annotations

import asyncio
import time
from enum import Enum, auto
from typing import Any

import structlog

from flx_meltano.runner.blockset import BlockSet
from flx_meltano.runner.errors import (
    DownstreamClosedError,
    ProcessFailed,
    RunFailure,
    TruncatedOutputError,
    describe_exit,
)
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
        self._own_exits: dict[str, int] = {}
        """Exit codes of the processes that ended before the runner signalled them."""
        self._downstream_signalled_at: float | None = None

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
            await self._wind_down(ending, failure)
        except BaseException:
            self.blocks.kill_now()
            raise
        finally:
            await self._drain(io)
            await progress.stop()
        return ending, failure

    def failures(self, first: RunFailure | None) -> list[BaseException]:
        """What went wrong, the cause first, the same whichever failure was noticed first.

        Only exits that were the processes' own count (a process stopped by the runner
        exits however it handles SIGTERM). A failure travels upstream as a broken pipe, and
        downstream as an end of file, which ends a process cleanly. So:

        - of the processes after the tap, the last one that failed is the cause: those
          before it died writing to it;
        - the tap's failure counts unless the relay found its downstream closed before the
          runner stopped any of it (the tap then died writing to the relay, which had
          closed its end);
        - a downstream that closed its input early and failed in no other way is reported
          as such.
        """
        relay_error = _error_of(self.relay_done)
        relay_broke = self._relay_broke()
        failed = {
            b.name: code
            for b in self.blocks.blocks
            if (code := self._own_exits.get(b.name, 0)) != 0
        }
        tap = self.blocks.tap.name
        found: list[BaseException] = []
        if tap in failed and not relay_broke:
            found.append(ProcessFailed(tap, failed[tap]))
        if isinstance(relay_error, TruncatedOutputError):
            found.append(relay_error)
        downstream = [b.name for b in self.blocks.downstream if b.name in failed]
        if downstream:
            found.append(ProcessFailed(downstream[-1], failed[downstream[-1]]))
        elif relay_broke:
            if not isinstance(relay_error, DownstreamClosedError):
                relay_error = DownstreamClosedError(self.blocks.downstream[0].name)
            found.append(relay_error)
        if relay_error is not None and not isinstance(
            relay_error, DownstreamClosedError | TruncatedOutputError
        ):
            found.append(relay_error)
        if (delivery_error := _error_of(self.delivered)) is not None:
            found.append(delivery_error)
        if not found and first is not None:
            found.append(first)
        return found

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
        if not block.signalled:
            self._own_exits[block.name] = code
        self.sink.event(describe_exit(block.name, code))
        if code != 0:
            raise ProcessFailed(block.name, code)

    async def _wind_down(self, ending: Ending, failure: RunFailure | None) -> None:
        grace = self.spec.grace_period
        blocks = self.blocks.blocks
        split = self._break_point(failure) if ending is Ending.FAILED else None
        if split is not None:
            upstream, downstream = blocks[:split], blocks[split:]
            if downstream:
                names = ", ".join(b.name for b in downstream)
                self.sink.event(f"{failure}; letting {names} finish (up to {grace:g} s)")
            else:
                self.sink.event(f"{failure}; stopping all processes")
            await self._stop(upstream, grace)
            await self._let_end(downstream, grace)
        elif ending is Ending.FAILED:
            self.sink.event(f"{failure}; stopping all processes")
        elif ending is Ending.CANCELLED:
            self.sink.event("cancelled; stopping all processes")
        elif ending is Ending.TIMED_OUT:
            self.sink.event(f"timed out after {self.spec.timeout:g} s; stopping all processes")
        await self._stop(blocks, grace)

    def _break_point(self, failure: RunFailure | None) -> int | None:
        """How many processes, from the tap on, are upstream of where the pipeline broke
        (None: it did not break, the runner itself failed)."""
        if isinstance(failure, TruncatedOutputError | DownstreamClosedError):
            return 1
        if isinstance(failure, ProcessFailed):
            names = [b.name for b in self.blocks.blocks]
            return names.index(failure.process) + 1
        return None

    async def _stop(self, blocks: tuple[ProcessBlock, ...], grace: float) -> None:
        """Stop the process groups of ``blocks``; first note who has already ended."""
        self._note_exits()
        if self._downstream_signalled_at is None and any(
            b.role != "tap" and b.group_alive() for b in blocks
        ):
            self._downstream_signalled_at = time.monotonic()
        await asyncio.gather(*(b.stop(grace) for b in blocks))

    def _note_exits(self) -> None:
        """Collect the exits that happened before any signal, though not yet watched."""
        for block in self.blocks.blocks:
            if block.name not in self._own_exits and not block.signalled:
                code = block.poll()
                if code is not None:
                    self._own_exits[block.name] = code

    async def _let_end(self, blocks: tuple[ProcessBlock, ...], grace: float) -> None:
        """Wait until ``blocks`` have all exited, for ``grace`` seconds at most; a cancel
        ends the wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        exits: set[asyncio.Future[Any]] = {b.exited() for b in blocks}
        cancelled = asyncio.ensure_future(self._cancel.wait())
        try:
            while exits and not cancelled.done() and (left := deadline - loop.time()) > 0:
                _, pending = await asyncio.wait(
                    {*exits, cancelled}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                exits &= pending
        finally:
            cancelled.cancel()

    def _relay_broke(self) -> bool:
        """Whether the first downstream process closed its input before the runner
        stopped any downstream process (afterwards, a broken pipe is no news)."""
        broken_at = self.relay.broken_at if self.relay is not None else None
        if broken_at is None:
            return False
        signalled_at = self._downstream_signalled_at
        return signalled_at is None or broken_at < signalled_at

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


def _error_of(future: asyncio.Future[Any] | None) -> BaseException | None:
    if future is None or not future.done() or future.cancelled():
        return None
    return future.exception()
