"""One Singer process: started in its own session, stopped with its whole process group.

On Linux a connector also dies with the FLX process that started it: if that process is
killed (kill -9, the OOM killer), the kernel sends the connector SIGKILL (PR_SET_PDEATHSIG),
so no tap or target is left running for nobody, reading a source or holding a destination.
The signal follows the thread that started the process, here the run's event loop, which
lives until the run's processes are stopped. What a connector starts itself, in its process
group, is stopped with the group on an ordinary end; after a kill it meets closed pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from flx_meltano.runner.errors import ProcessStartError
from flx_meltano.runner.executables import resolve_executable
from flx_meltano.runner.exits import ExitWatch
from flx_meltano.runner.groups import group_has_members
from flx_meltano.runner.result import Role
from flx_meltano.runner.spec import ProcessSpec

logger = structlog.get_logger(__name__)

POLL_INTERVAL = 0.05
KILL_WAIT = 5.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    args = (ctypes.c_ulong(_PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0))
    return functools.partial(function, *args, args[2], args[2])


def death_signal_setter() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when the calling thread ends;
    None where there is no prctl (not Linux).

    It runs in the child between fork and exec, so it does as little as it can there: one
    prctl call (its arguments made beforehand) and getppid.
    """
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl()
        if os.getppid() != parent:  # the parent died before the setting took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal


class ProcessBlock:
    def __init__(self, spec: ProcessSpec, role: Role, cwd: Path | None) -> None:
        self.spec = spec
        self.role = role
        self._cwd = cwd
        self._env = {**os.environ, **spec.env}
        self._executable: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._watch: ExitWatch | None = None
        self.signalled = False
        """True once the runner sent it a signal: its exit is then not its own failure."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    @property
    def exit_code(self) -> int | None:
        return self._process.returncode if self._process is not None else None

    def poll(self) -> int | None:
        return self._process.poll() if self._process is not None else None

    def resolve(self) -> None:
        self._executable = resolve_executable(self.name, self.spec.argv[0], self._env, self._cwd)

    def start(self, *, stdin: int, stdout: int, stderr: int) -> None:
        if self._executable is None:
            self.resolve()
        argv = [self._executable or self.spec.argv[0], *self.spec.argv[1:]]
        try:
            self._process = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                cwd=self._cwd,
                env=self._env,
                start_new_session=True,
                preexec_fn=death_signal_setter(),
            )
        except OSError as error:
            raise ProcessStartError(self.name, str(error)) from error
        logger.debug("process started", process=self.name, pid=self._process.pid)

    def exited(self) -> asyncio.Future[int]:
        """A future of the exit code."""
        if self._watch is None:
            if self._process is None:
                raise RuntimeError(f"{self.name} was not started")
            self._watch = ExitWatch(self._process, self.name)
        return self._watch.future

    def release(self) -> None:
        """Free what watches the process; reap it if it was killed without being awaited."""
        if self._watch is not None:
            self._watch.close()
        if self._process is not None and self._process.poll() is None:
            self.reap_now()

    def signal_group(self, sig: signal.Signals) -> None:
        if self._process is None:
            return
        self.signalled = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)

    def group_alive(self) -> bool:
        """Whether the leader is unreaped or anything is left in its process group."""
        if self._process is None:
            return False
        if self._process.poll() is None:
            return True
        return group_has_members(self._process.pid)

    async def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL what is left after ``grace`` seconds."""
        if not self.group_alive():
            return
        self.signal_group(signal.SIGTERM)
        if await self._wait_gone(grace):
            return
        logger.warning("process ignored SIGTERM, killing it", process=self.name)
        self.signal_group(signal.SIGKILL)
        if not await self._wait_gone(KILL_WAIT):
            logger.error("process group survived SIGKILL", process=self.name, pid=self.pid)

    def kill_now(self) -> None:
        """Synchronous last resort, for paths that can no longer await."""
        if self.group_alive():
            self.signal_group(signal.SIGKILL)

    def reap_now(self) -> None:
        """Collect the exit status synchronously (after ``kill_now``)."""
        if self._process is not None:
            try:
                self._process.wait(timeout=KILL_WAIT)
            except subprocess.TimeoutExpired:
                logger.error("process did not die", process=self.name, pid=self.pid)

    async def _wait_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.group_alive():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_INTERVAL)
        return True
