"""OS pipes sized for throughput."""

from __future__ import annotations

import contextlib
import fcntl
import os

PIPE_SIZE = 1 << 20
"""Capacity asked for the data pipes: lets the relay hand over a whole chunk at once."""


def open_pipe(size: int | None = None) -> tuple[int, int]:
    """Return ``(read_fd, write_fd)``, both close-on-exec; grow the buffer when asked."""
    read_fd, write_fd = os.pipe()
    if size:
        set_pipe_size(write_fd, size)
    return read_fd, write_fd


def set_pipe_size(fd: int, size: int) -> None:
    """Best effort: an unprivileged process may not exceed the system maximum."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    while size >= 1 << 16:
        try:
            fcntl.fcntl(fd, set_size, size)
        except OSError:
            size //= 2
        else:
            return


def close_quietly(*fds: int | None) -> None:
    for fd in fds:
        if fd is None:
            continue
        with contextlib.suppress(OSError):
            os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write everything; a closed reader raises ``BrokenPipeError``."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
