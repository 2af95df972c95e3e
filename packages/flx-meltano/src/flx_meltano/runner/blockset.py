"""The processes of a run and the pipes between them.

    tap --pipe--> [relay thread] --pipe--> mapper --pipe--> mapper --pipe--> target
                                                                              |
                                                      stdout (STATE) <--pipe--+

Mappers are chained directly by OS pipes; only the tap's output passes through the
runner, to be counted. Every process also gets its own stderr pipe.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from flx_meltano.runner.pipes import PIPE_SIZE, close_quietly, open_pipe
from flx_meltano.runner.process import ProcessBlock
from flx_meltano.runner.spec import RunSpec


@dataclass(frozen=True, slots=True)
class Wiring:
    """The runner's ends of the pipes, each owned by the thread that reads or writes it."""

    tap_stdout: int
    downstream_stdin: int
    target_stdout: int
    stderr: dict[str, int]


class BlockSet:
    def __init__(self, spec: RunSpec) -> None:
        self.tap = ProcessBlock(spec.tap, "tap", spec.cwd)
        self.mappers = tuple(ProcessBlock(m, "mapper", spec.cwd) for m in spec.mappers)
        self.target = ProcessBlock(spec.target, "target", spec.cwd)

    @property
    def blocks(self) -> tuple[ProcessBlock, ...]:
        return (self.tap, *self.mappers, self.target)

    @property
    def downstream(self) -> tuple[ProcessBlock, ...]:
        return (*self.mappers, self.target)

    def validate(self) -> None:
        """Resolve every executable, so a missing one fails before anything starts."""
        for block in self.blocks:
            block.resolve()

    def start(self) -> Wiring:
        """Start downstream first; on any failure, kill what started and close every pipe."""
        fds = _Descriptors()
        try:
            target_stdout, target_out = fds.pipe()
            read_end, downstream_stdin = fds.pipe(PIPE_SIZE)
            plan: list[tuple[ProcessBlock, int, int]] = []
            for mapper in self.mappers:
                next_read_end, mapper_out = fds.pipe()
                plan.append((mapper, read_end, mapper_out))
                read_end = next_read_end
            plan.append((self.target, read_end, target_out))
            tap_stdout, tap_out = fds.pipe(PIPE_SIZE)
            plan.insert(0, (self.tap, fds.add(os.open(os.devnull, os.O_RDONLY)), tap_out))
            stderr: dict[str, int] = {}
            for block, stdin, stdout in reversed(plan):
                stderr[block.name], err_write = fds.pipe()
                block.start(stdin=stdin, stdout=stdout, stderr=err_write)
            fds.close_all_but({tap_stdout, downstream_stdin, target_stdout, *stderr.values()})
            return Wiring(tap_stdout, downstream_stdin, target_stdout, stderr)
        except BaseException:
            fds.close_all_but(set())
            for block in self.blocks:
                block.kill_now()
                block.reap_now()
            raise

    def release(self) -> None:
        for block in self.blocks:
            block.release()

    def kill_now(self) -> None:
        for block in self.blocks:
            block.kill_now()

    async def terminate(self, grace: float) -> None:
        """Stop every process group concurrently (those already gone are skipped)."""
        await asyncio.gather(*(block.stop(grace) for block in self.blocks))


class _Descriptors:
    """Every descriptor opened while wiring, so none leaks whatever happens."""

    def __init__(self) -> None:
        self._fds: list[int] = []

    def add(self, fd: int) -> int:
        self._fds.append(fd)
        return fd

    def pipe(self, size: int | None = None) -> tuple[int, int]:
        read_fd, write_fd = open_pipe(size)
        self._fds.extend((read_fd, write_fd))
        return read_fd, write_fd

    def close_all_but(self, keep: set[int]) -> None:
        close_quietly(*(fd for fd in self._fds if fd not in keep))
        self._fds = []
