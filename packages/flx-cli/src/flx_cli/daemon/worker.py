"""A worker of the FLX daemon: one `flx` command, run for the `flx` process that asked for it.

The daemon forks a worker per command (see :mod:`flx_cli.daemon.server`). The worker takes
the client's stdin, stdout, stderr, environment, working directory and umask, then runs the
ordinary `flx` entry point, so the command behaves as in a process of its own. While it runs,
the client's connection carries the signals the client forwards (Ctrl-C, SIGTERM, SIGHUP).

If the client goes away without its command's end (kill -9, the OOM killer, any signal it
does not forward), the worker does what a cold `flx` would have done had it been killed: it
writes nothing more to the client's terminal or pipes, and its run ends ``failed``, with the
reason a run whose own process died is given. A `flx run` asks :func:`abandoned` when it is
told to stop: a reason means "fail with this", None means "cancel" (see
``flx_cli.commands.run``).

Standard library only: `flx run` imports this in every process, cold ones included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any

from flx_cli.daemon import protocol

_abandoned: str | None = None


def abandoned() -> str | None:
    """Why this command must end as failed: its client is gone. None while the client waits
    for it, and always in a process that is not a worker of the daemon.

    The wording is the one a run whose own `flx` process died gets once its death is
    noticed; the pid is the client's, the `flx` process its user started (and killed).
    """
    return _abandoned


def abandon_reason(client_pid: int) -> str:
    return f"abandoned: the process running it (pid {client_pid} on {socket.gethostname()}) is gone"


def adopt(message: dict[str, Any], fds: list[int]) -> None:
    """Take on the client's stdio, environment, working directory and umask."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    fds.clear()
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in message["env"].items()})
    time.tzset()
    os.chdir(message["cwd"])
    os.umask(int(message["umask"]))
    # Buffering as Python sets it up: stdout line-buffered on a terminal, stderr by lines.
    sys.stdin = _reopen(0, "r", 1)
    sys.stdout = _reopen(1, "w", 1 if os.isatty(1) else -1)
    sys.stderr = _reopen(2, "w", 1)


def _reopen(fd: int, mode: str, buffering: int) -> Any:
    """A text stream on ``fd`` with the encoding the caller's interpreter would have chosen:
    ``PYTHONIOENCODING`` (``encoding[:errors]``) if set, else UTF-8."""
    encoding, _, errors = os.environ.get("PYTHONIOENCODING", "").partition(":")
    default_errors = "backslashreplace" if fd == 2 else "strict"
    return open(
        fd,
        mode,
        buffering,
        encoding=encoding or "utf-8",
        errors=errors or default_errors,
        closefd=False,
    )


def watch_client(conn: socket.socket) -> None:
    """Deliver the client's forwarded signals; if the client goes away, stop as abandoned."""
    me = os.getpid()
    client_pid = protocol.peer_pid(conn)

    def watch() -> None:
        while True:
            try:
                message = protocol.receive(conn)
            except (OSError, protocol.ProtocolError):
                message = None
            if message is None:
                _lose_client(client_pid)
                os.kill(me, signal.SIGTERM)
                return
            signum = message.get("signal")
            if signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                # SIGHUP (terminal closed) stops a run the way SIGTERM does.
                os.kill(me, signal.SIGTERM if signum == signal.SIGHUP else signum)

    threading.Thread(target=watch, name="flx-client-watch", daemon=True).start()


def _lose_client(client_pid: int) -> None:
    """The client is gone: record why, and let nothing more reach its terminal or pipes.

    A killed cold `flx` writes nothing after its death; the worker's stdio (the client's,
    possibly a terminal its user goes on typing in) is pointed at /dev/null before the
    command is told to stop.
    """
    global _abandoned
    _abandoned = abandon_reason(client_pid)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)


def run_flx(argv: list[str]) -> int:
    from flx_cli.app import cli

    sys.argv = ["flx", *argv]
    try:
        cli.main(args=argv, prog_name="flx")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        sys.stderr.write(f"{exc.code}\n")  # as the interpreter does for sys.exit("message")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc()  # as a cold process would show an uncaught error
        return 1
    return 0


def finish(conn: socket.socket, code: int) -> None:
    """Run the exit hooks, flush, tell the client the exit code, and leave (never returns)."""
    import atexit

    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    with contextlib.suppress(Exception):
        protocol.send(conn, {"exit": code})
    os._exit(code)
