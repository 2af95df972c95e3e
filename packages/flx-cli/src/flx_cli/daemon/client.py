"""The `flx` side of a warm start: hand the invocation to the FLX daemon, wait for its end.

The daemon forks a worker that runs the very same `flx` code with this process's arguments,
environment, working directory and umask, writing straight to this process's stdin, stdout
and stderr (passed as file descriptors once the worker waits for them). Ctrl-C, SIGTERM and
SIGHUP are forwarded, Ctrl-Z and `fg` stop and resume the worker. If this process dies
before the command's end (kill -9), the worker sees the connection close, writes nothing
more, and a run it was running ends failed, as a killed cold `flx run` does (see
:mod:`flx_cli.daemon.worker`).

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
#: How long the daemon may take to fork a worker before this process runs the command itself.
#: Nothing has run by then: a worker waits for this process's go before it starts.
ACCEPT_TIMEOUT_SECONDS = 5.0


def connect(path: str) -> socket.socket | None:
    """A connection to the daemon at ``path``, if one of this user listens there."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        # The directory was checked, but a parent of it may not be ours: whoever answers must
        # be this user, or this process's environment and terminal would be handed over.
        if protocol.peer_uid(sock) == os.getuid():
            return sock
    except OSError:
        pass
    sock.close()
    return None


def stdio_open() -> bool:
    """Whether fds 0, 1 and 2 are open (a closed one would be taken by the socket)."""
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


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

    None means nothing ran (no daemon, one with other code, or one too slow to answer), so
    the caller runs the command in-process.
    """
    sock = connect(path)
    if sock is None:
        return None
    with sock:
        try:
            sock.settimeout(ACCEPT_TIMEOUT_SECONDS)
            protocol.send(sock, request(argv, code))
            accepted = protocol.receive(sock)
            if not accepted or "pid" not in accepted:
                return None
            sock.settimeout(None)
            # Only now, to a worker that waits for them: descriptors queued to a daemon that
            # never reads them would keep this process's pipes open after it has gone.
            protocol.send(sock, {"go": True}, [0, 1, 2])
        except (OSError, protocol.ProtocolError):
            return None  # closing the connection tells a waiting worker to leave
        return _wait(sock, int(accepted["pid"]))  # type: ignore[call-overload]


def _wait(sock: socket.socket, pid: int) -> int:
    """Forward signals until the worker's exit status arrives."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:  # noqa: SIM105 (contextlib costs milliseconds of start-up here)
            protocol.send(sock, {"signal": signum})
        except OSError:
            pass

    # A signal this process ignores (SIGHUP under nohup, SIGINT in a background job) stays
    # ignored: forwarding it would stop a run the caller meant to shield.
    previous: dict[int, object] = {
        sig: signal.signal(sig, forward)
        for sig in FORWARDED
        if signal.getsignal(sig) is not signal.SIG_IGN
    }
    previous.update(_follow_job_control(pid))
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
            signal.signal(sig, handler)  # type: ignore[arg-type]


def _follow_job_control(pid: int) -> dict[int, object]:
    """Ctrl-Z stops the worker too, and `fg` resumes it, as with a cold command.

    The worker is not in the terminal's process group, so the signals are sent to it from
    here, through a pidfd (no race with a reused pid).
    """
    if signal.getsignal(signal.SIGTSTP) is signal.SIG_IGN:
        return {}
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return {}

    def send(sig: int) -> None:
        try:  # noqa: SIM105 (contextlib costs milliseconds of start-up here)
            signal.pidfd_send_signal(pidfd, sig)
        except OSError:
            pass

    def on_stop(_signum: int, _frame: FrameType | None) -> None:
        send(signal.SIGSTOP)
        # Stop here too (SIGCONT resumes both). SIGSTOP, not SIGTSTP: the kernel drops a
        # default-action SIGTSTP in an orphaned process group, leaving the worker stopped.
        os.kill(os.getpid(), signal.SIGSTOP)

    def on_continue(_signum: int, _frame: FrameType | None) -> None:
        send(signal.SIGCONT)

    return {
        signal.SIGTSTP: signal.signal(signal.SIGTSTP, on_stop),
        signal.SIGCONT: signal.signal(signal.SIGCONT, on_continue),
    }


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
            sock.settimeout(ACCEPT_TIMEOUT_SECONDS)
            protocol.send(sock, {"op": op, "version": protocol.VERSION})
            return protocol.receive(sock)
        except (OSError, protocol.ProtocolError):
            return None


def log_path(directory: str | None = None, code: str | None = None) -> str | None:
    """Where this installation's daemon writes what goes wrong (beside its socket)."""
    directory = directory or protocol.runtime_dir()
    if directory is None:
        return None
    code = code or protocol.fingerprint()
    return protocol.socket_path(directory, code).removesuffix(".sock") + ".log"


#: A daemon that wrote to its log (it has no terminal; it writes there only when something
#: is wrong) this recently is not started again by every cold command.
RETRY_AFTER_SECONDS = 60.0


_LAUNCHER = (
    "import os, sys\n"
    "if os.fork():\n"
    "    os._exit(0)\n"
    "os.execv(sys.argv[1], [sys.argv[1], '-P', '-m', 'flx_cli.daemon.server'])\n"
)


def start_in_background(*, force: bool = False, log: str | None = None) -> bool:
    """Start a daemon for the next commands; it warms up while this process exits.

    Its own messages go to ``daemon-<fingerprint>.log`` beside its socket. Unless ``force``,
    nothing starts while that log shows a failure of the last minute (a daemon that cannot
    start would otherwise cost every cold command another attempt). True if one started.
    """
    import subprocess
    import time

    log = log or log_path()
    if log is None:
        return False
    try:
        info = os.stat(log)
        failed_recently = info.st_size > 0 and time.time() - info.st_mtime < RETRY_AFTER_SECONDS
    except OSError:
        failed_recently = False
    if failed_recently and not force:
        return False

    # A launcher that forks and leaves: the daemon is then nobody's child, and it inherits
    # no descriptor but the three given here (a pipe held open would hang the caller's shell).
    with open(log, "wb") as err:
        os.chmod(log, 0o600)
        subprocess.run(
            [sys.executable, "-S", "-c", _LAUNCHER, sys.executable],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            cwd="/",
            env=daemon_environment(os.environ),
            check=False,
        )
    return True


#: What a daemon keeps of the environment it was started from. Workers get the environment
#: of each client; the long-lived process itself holds no settings, and no secrets.
_KEPT = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV", "XDG_RUNTIME_DIR")
_KEPT_PREFIXES = ("PYTHON", "LC_", "FLX_DAEMON")


def daemon_environment(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k in _KEPT or k.startswith(_KEPT_PREFIXES)}


def _start_after_cold_run(log: str | None) -> None:
    if start_in_background(log=log) and sys.stderr.isatty():
        sys.stderr.write(
            "flx: started the FLX daemon in the background: later commands typed here start "
            "faster (`flx daemon status`; FLX_DAEMON=off disables it)\n"
        )


def main(argv: list[str]) -> int | None:
    """The exit code of a run the daemon took, or None to run in this process.

    ``FLX_DAEMON=auto`` (the default) hands over only a command typed at a terminal (stdin
    and stdout are terminals): one started by cron, systemd, CI or a script stays in its
    caller's process tree, cgroup and limits, and starts no daemon. ``FLX_DAEMON=on`` hands
    over whatever the stdio. When no daemon answers, one is started in the background once
    this process is done (see :func:`start_in_background`), so the next command is warm.
    """
    mode = protocol.mode()
    if mode == "off" or not protocol.eligible(argv) or not stdio_open():
        return None
    if mode == "auto" and not protocol.interactive():
        return None
    directory = protocol.runtime_dir()
    if directory is None:
        return None
    try:
        code = protocol.fingerprint()
    except OSError:
        return None
    result = run(argv, protocol.socket_path(directory, code), code)
    if result is None:
        import atexit

        atexit.register(_start_after_cold_run, log_path(directory, code))
    return result
