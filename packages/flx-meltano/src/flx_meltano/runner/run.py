"""Entry points: ``run(spec)`` and ``start(spec)`` returning a cancellable ``RunHandle``."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

from flx_meltano.allocator import tune_allocator
from flx_meltano.runner.blockset import BlockSet
from flx_meltano.runner.errors import RunFailure
from flx_meltano.runner.logsink import LogSink
from flx_meltano.runner.manager import Ending, RunManager
from flx_meltano.runner.result import ProcessOutcome, RunResult, RunStatus
from flx_meltano.runner.spec import RunSpec
from flx_meltano.runner.summary import failure_summary
from flx_meltano.runner.threads import call_in_loop


async def run(spec: RunSpec) -> RunResult:
    """Run ``tap | mappers | target`` to the end and return what happened.

    Raises ``RunnerError`` (``ExecutableNotFoundError``, ``ProcessStartError``) when the
    run cannot start. If the awaiting task is cancelled, the processes are stopped (SIGTERM,
    then SIGKILL after the grace period) before ``CancelledError`` propagates.
    """
    return await start(spec).wait()


def start(spec: RunSpec) -> RunHandle:
    """Start a run in the background; needs a running event loop."""
    tune_allocator()  # the relay's 1 MiB buffers must not be mmap-ed and unmapped each time
    return RunHandle(spec)


class RunHandle:
    """A run in progress.

    ``cancel()`` may be called from any thread or from a signal handler; the run then stops
    its processes and ends with status ``cancelled``.
    """

    def __init__(self, spec: RunSpec) -> None:
        self.spec = spec
        self._blocks = BlockSet(spec)
        self._blocks.validate()
        self._loop = asyncio.get_running_loop()
        self._cancel = asyncio.Event()
        self._task = self._loop.create_task(self._execute(), name=f"flx-run-{spec.tap.name}")

    @property
    def pids(self) -> dict[str, int]:
        return {b.name: b.pid for b in self._blocks.blocks if b.pid}

    def cancel(self) -> None:
        call_in_loop(self._loop, self._cancel.set)

    def done(self) -> bool:
        return self._task.done()

    async def wait(self) -> RunResult:
        try:
            return await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.done():
                raise
            self._cancel.set()
            while not self._task.done():
                try:
                    await asyncio.shield(self._task)
                except asyncio.CancelledError:
                    continue
                except Exception:
                    break
            raise

    def __await__(self) -> Generator[Any, None, RunResult]:
        return self.wait().__await__()

    async def _execute(self) -> RunResult:
        started_at = datetime.now(UTC)
        sink = LogSink(self.spec.log_path)
        manager = RunManager(self.spec, self._blocks, sink, self._cancel)
        try:
            ending, failure = await manager.execute()
            result = _result(manager, ending, failure, started_at)
            sink.event(f"run {result.status.value} in {result.duration:.3f} s")
            return result
        except BaseException:
            self._blocks.kill_now()
            raise
        finally:
            self._blocks.release()
            sink.close()


def _result(
    manager: RunManager, ending: Ending, failure: RunFailure | None, started_at: datetime
) -> RunResult:
    blocks = manager.blocks.blocks
    tails = {name: log.tail for name, log in manager.stderr.items()}
    failures = manager.failures(failure)
    if ending is Ending.CANCELLED:
        status, error_text = RunStatus.CANCELLED, "cancelled"
    elif ending is Ending.TIMED_OUT:
        status = RunStatus.FAILED
        headline = f"timed out after {manager.spec.timeout:g} s"
        everyone = [b.name for b in blocks]
        error_text = failure_summary(headline, failures, tails, tails_of=everyone)
    elif failures:
        status = RunStatus.FAILED
        error_text = failure_summary(None, failures, tails)
    else:
        status, error_text = RunStatus.SUCCEEDED, None
    relay, states = manager.relay, manager.states
    return RunResult(
        status=status,
        started_at=started_at,
        finished_at=datetime.now(UTC),
        duration=manager.elapsed(),
        processes=tuple(
            ProcessOutcome(b.name, b.role, b.pid, b.exit_code, tails.get(b.name, ()))
            for b in blocks
        ),
        records=relay.counter.per_stream() if relay else {},
        bytes=relay.bytes if relay else 0,
        states_emitted=states.emitted if states else 0,
        last_state=states.last if states else None,
        error=error_text,
        timed_out=ending is Ending.TIMED_OUT,
    )
