"""The `flx` side of a warm start: hand the invocation to the FLX daemon, wait for its end.

The daemon forks a worker that runs the very same `flx` code with this process's arguments,
environment, working directory and umask, writing straight to this process's stdin, stdout
and stderr (passed as file descriptors). Ctrl-C and SIGTERM are forwarded to the worker; if
this process dies, the worker sees the connection close and stops the run as on SIGTERM.

Standard library only, imported before click: this path must cost milliseconds.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from types import FrameType

from flx_cli.daemon import protocol

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


def request(argv: list[str], code: str) -> dict[str, object]:
    umask = os.umask(0o077)
    os.umask(umask)
    return {
        "op": "run",
        "version": protocol.VERSION,
        "fingerprint": code,
        "argv": argv,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
    }


def run(argv: list[str], path: str, code: str) -> int | None:
    """Run ``flx argv`` in the daemon at ``path``; its exit code, or None if it was not taken.

    None means nothing ran (no daemon, or one with other code), so the caller runs in-process.
    """
    sock = connect(path)
    if sock is None:
        return None
    with sock:
        try:
            protocol.send(sock, request(argv, code), [0, 1, 2])
            accepted = protocol.receive(sock)
        except (OSError, protocol.ProtocolError):
            return None
        if not accepted or "pid" not in accepted:
            return None
        return _wait(sock)


def _wait(sock: socket.socket) -> int:
    """Forward signals until the worker's exit status arrives."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:  # noqa: SIM105 (contextlib costs milliseconds of start-up here)
            protocol.send(sock, {"signal": signum})
        except OSError:
            pass

    # A signal this process ignores (SIGHUP under nohup, SIGINT in a background job) stays
    # ignored: forwarding it would stop a run the caller meant to shield.
    previous = {
        sig: signal.signal(sig, forward)
        for sig in FORWARDED
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    try:
        while True:
            try:
                message = protocol.receive(sock)
            except protocol.ProtocolError:
                message = None
            if message is None:
                sys.stderr.write("error: the FLX daemon closed the connection early\n")
                return 1
            if "exit" in message:
                return int(message["exit"])  # type: ignore[call-overload]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ask(op: str) -> dict[str, object] | None:
    """Send a control request (``status``, ``stop``) to this installation's daemon, if any."""
    directory = protocol.runtime_dir()
    if directory is None:
        return None
    sock = connect(protocol.socket_path(directory, protocol.fingerprint()))
    if sock is None:
        return None
    with sock:
        try:
            protocol.send(sock, {"op": op, "version": protocol.VERSION})
            return protocol.receive(sock)
        except (OSError, protocol.ProtocolError):
            return None


def log_path() -> str | None:
    """Where this installation's daemon writes what goes wrong (beside its socket)."""
    directory = protocol.runtime_dir()
    if directory is None:
        return None
    return protocol.socket_path(directory, protocol.fingerprint()).removesuffix(".sock") + ".log"


#: A daemon that wrote to its log (it has no terminal; it writes there only when something
#: is wrong) this recently is not started again by every cold command.
RETRY_AFTER_SECONDS = 60.0


def start_in_background(*, force: bool = False) -> bool:
    """Start a daemon for the next commands; it warms up while this process exits.

    Its own messages go to ``daemon-<fingerprint>.log`` beside its socket. Unless ``force``,
    nothing starts while that log shows a failure of the last minute (a daemon that cannot
    start would otherwise cost every cold command another attempt). True if one started.
    """
    import time

    log = log_path()
    if log is None:
        return False
    try:
        info = os.stat(log)
        failed_recently = info.st_size > 0 and time.time() - info.st_mtime < RETRY_AFTER_SECONDS
    except OSError:
        failed_recently = False
    if failed_recently and not force:
        return False
    # posix_spawn, not subprocess: the daemon outlives this process, which never waits for it.
    os.posix_spawn(
        sys.executable,
        [sys.executable, "-P", "-m", "flx_cli.daemon.server"],
        daemon_environment(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        ],
        setsid=True,
    )
    return True


#: What a daemon keeps of the environment it was started from. Workers get the environment
#: of each client; the long-lived process itself holds no settings, and no secrets.
_KEPT = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "XDG_RUNTIME_DIR")
_KEPT_PREFIXES = ("PYTHON", "LC_", "FLX_DAEMON")


def daemon_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k in _KEPT or k.startswith(_KEPT_PREFIXES)}


def _start_after_cold_run() -> None:
    if start_in_background() and sys.stderr.isatty():
        sys.stderr.write(
            "flx: started the FLX daemon in the background: later commands start faster "
            "(`flx daemon status`; FLX_DAEMON=off disables it)\n"
        )


def main(argv: list[str]) -> int | None:
    """The exit code of a run the daemon took, or None to run in this process.

    With ``FLX_DAEMON=auto`` and no daemon answering, one is started in the background once
    this process is done (see :func:`start_in_background`), so the next run is warm.
    """
    if protocol.mode() == "off" or not protocol.eligible(argv):
        return None
    directory = protocol.runtime_dir()
    if directory is None:
        return None
    code = protocol.fingerprint()
    result = run(argv, protocol.socket_path(directory, code), code)
    if result is None:
        import atexit

        atexit.register(_start_after_cold_run)
    return result
