"""Knowing when a child process exits, without a thread where the system allows."""

from __future__ import annotations

import asyncio
import os
import subprocess

from flx_meltano.runner.threads import run_in_thread


class ExitWatch:
    """A future of a child's exit code.

    On Linux the event loop watches a pidfd (readable once the process has exited, then
    reaped with ``poll``); elsewhere a thread blocks in ``wait``.
    """

    def __init__(self, process: subprocess.Popen[bytes], name: str) -> None:
        self._process = process
        self._loop = asyncio.get_running_loop()
        self._pidfd: int | None = None
        self.future: asyncio.Future[int] = self._loop.create_future()
        pidfd_open = getattr(os, "pidfd_open", None)
        try:
            self._pidfd = pidfd_open(process.pid) if pidfd_open is not None else None
        except OSError:
            self._pidfd = None
        if self._pidfd is None:
            self.future = run_in_thread(process.wait, name=f"flx-wait-{name}")
        else:
            self._loop.add_reader(self._pidfd, self._on_readable)

    def _on_readable(self) -> None:
        code = self._process.poll()
        if code is None:
            return
        self.close()
        if not self.future.done():
            self.future.set_result(code)

    def close(self) -> None:
        if self._pidfd is not None:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
