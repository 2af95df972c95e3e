"""The FLX daemon: a warm process that forks one worker per `flx` command.

Importing FLX's stack (SQLAlchemy, Pydantic, the application modules) costs more than most
small runs. The daemon imports it once, opens nothing (no database, no thread, no event
loop), and forks a worker per request, as multiprocessing's forkserver does. The worker
takes the client's stdin/stdout/stderr, environment, working directory and umask and runs
the ordinary `flx` entry point, so a warm run behaves exactly like a cold one: settings,
the database and plugins are read fresh in the worker (see :mod:`flx_cli.daemon.worker`).

One daemon per user and per code fingerprint (see :mod:`flx_cli.daemon.protocol`): after an
upgrade or an edit of FLX's sources clients compute another fingerprint, so they start a new
daemon; the old one notices its sources changed and leaves. A daemon also leaves after
``FLX_DAEMON_IDLE_SECONDS`` (default 1800) without a request. Only processes of the same
user may connect (the socket's directory is 0700, and the peer's uid is checked).

    python -m flx_cli.daemon.server      # what `flx daemon start` and a cold `flx` start
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flx_cli.daemon import protocol
from flx_cli.daemon.worker import adopt, finish, run_flx, watch_client

CHECK_SECONDS = 5.0


def preload() -> None:
    """Import what a run needs, without creating any engine, session, settings or thread."""
    import importlib

    from flx_cli.app import COMMANDS

    for name in (
        *(target.split(":")[0] for target, _ in COMMANDS.values()),
        "flx_cli.context",
        "flx_cli.output",
        "flx_cli.progress",
        "flx_core.bootstrap",
        "flx_core.config",
        "flx_core.infrastructure.secret_cipher",
        "flx_meltano.engine.executor",
        "flx_meltano.engine.pipeline_run",
        "flx_meltano.runner",
        "flx_observability",
        "sqlalchemy.dialects.sqlite.aiosqlite",
        "sqlalchemy.dialects.postgresql.asyncpg",
        "sqlalchemy.dialects.postgresql.psycopg",
        "aiosqlite",
        "rich.console",
        "rich.live",
        "rich.table",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from flx_core.bootstrap import module_factories

    with contextlib.suppress(Exception):
        module_factories()  # the bounded contexts' entry points, loaded once for every worker


@dataclass
class Worker:
    pid: int
    pidfd: int
    conn: socket.socket


@dataclass
class Daemon:
    path: Path
    code: str
    idle_seconds: float
    started: float = field(default_factory=time.time)
    workers: dict[int, Worker] = field(default_factory=dict)
    served: int = 0
    stopping: str | None = None
    _last_activity: float = field(default_factory=time.monotonic)
    _listener: socket.socket | None = None
    _selector: selectors.BaseSelector | None = None
    _lock_file: Any = None

    # --- the loop -------------------------------------------------------------------------

    def serve(self, lock_file: Any) -> None:
        """Serve until stopped and drained; ``lock_file`` (see :func:`take_lock`) is held
        while this daemon listens."""
        self._lock_file = lock_file
        self._listener = self._bind()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        next_check = time.monotonic() + CHECK_SECONDS
        try:
            while self.stopping is None or self.workers:
                for key, _ in self._selector.select(timeout=1.0):
                    if key.data == "accept":
                        self._accept()
                    else:
                        self._reap(key.data)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + CHECK_SECONDS
                    self._check()
        finally:
            self._close_listener()

    def _bind(self) -> socket.socket:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket left by a daemon that died; we hold the lock
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            listener.bind(str(self.path))
        finally:
            os.umask(old)
        listener.listen(64)
        return listener

    def _close_listener(self) -> None:
        """Stop listening, and let a new daemon take over while the running workers end."""
        if self._listener is not None and self._selector is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _check(self) -> None:
        """Leave when idle for too long, or when FLX's code on disk is no longer ours."""
        if self.stopping is not None:
            return
        if self.workers:
            self._last_activity = time.monotonic()
        elif time.monotonic() - self._last_activity > self.idle_seconds:
            self.stop("idle")
        elif not self.path.exists():
            self.stop("its socket was removed")  # a cleaned temp dir: nobody can reach it
        elif protocol.fingerprint() != self.code:
            self.stop("FLX's code changed")

    def stop(self, reason: str) -> None:
        """Accept nothing more; the loop ends when the running workers have finished."""
        self.stopping = reason
        self._close_listener()

    # --- requests -------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        self._last_activity = time.monotonic()
        # Clients send their request at once: one that does not must not hold up the others.
        conn.settimeout(2)
        try:
            if protocol.peer_uid(conn) != os.getuid():
                return conn.close()
            message = protocol.receive(conn)
            if message is None:
                return conn.close()
            op = message.get("op")
            if op == "run" and message.get("fingerprint") == self.code:
                self._fork(conn, message)
                return
            if op == "run":
                protocol.send(conn, {"error": "this daemon runs other code"})
                if message.get("fingerprint") != self.code:
                    self.stop("a client runs other code")
            elif op == "status":
                protocol.send(conn, self.status())
            elif op == "stop":
                self.stop("asked to stop")
                protocol.send(conn, {"stopping": True, "workers": len(self.workers)})
            else:
                protocol.send(conn, {"error": f"unknown request {op!r}"})
        except (OSError, protocol.ProtocolError, RuntimeError):
            pass
        conn.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started": self.started,
            "fingerprint": self.code,
            "served": self.served,
            "running": sorted(self.workers),
            "idle_seconds": self.idle_seconds,
            "socket": str(self.path),
        }

    def _fork(self, conn: socket.socket, message: dict[str, Any]) -> None:
        if threading.active_count() != 1:
            # Forking now could copy another thread's locks held: make way for a new daemon.
            self.stop("a thread is running in the daemon")
            raise RuntimeError("the daemon must not fork while other threads run")
        pid = os.fork()
        if pid == 0:
            self._become_worker(conn, message)  # never returns
        self.served += 1
        pidfd = os.pidfd_open(pid)
        worker = Worker(pid, pidfd, conn)
        self.workers[pid] = worker
        assert self._selector is not None
        self._selector.register(pidfd, selectors.EVENT_READ, worker)
        with contextlib.suppress(OSError):
            protocol.send(conn, {"pid": pid})

    def _reap(self, worker: Worker) -> None:
        assert self._selector is not None
        self._selector.unregister(worker.pidfd)
        os.close(worker.pidfd)
        _, status = os.waitpid(worker.pid, 0)
        del self.workers[worker.pid]
        self._last_activity = time.monotonic()
        code = os.waitstatus_to_exitcode(status)
        # A worker sends its own exit code; this one covers a worker killed by a signal.
        with contextlib.suppress(OSError):
            protocol.send(worker.conn, {"exit": 128 - code if code < 0 else code})
        worker.conn.close()

    # --- in the worker --------------------------------------------------------------------

    def _become_worker(self, conn: socket.socket, message: dict[str, Any]) -> None:
        code = 1
        try:
            self._drop_daemon_state(conn)
            # The client's go comes with its stdin, stdout and stderr. Without it (the client
            # gave up waiting, and runs the command itself) nothing runs here.
            try:
                go, fds = protocol.receive_with_fds(conn, 3)
            except (OSError, protocol.ProtocolError):
                os._exit(0)
            if not go.get("go") or len(fds) != 3:
                os._exit(0)
            adopt(message, fds)
            watch_client(conn)
            code = run_flx(message["argv"])
        except BaseException as exc:  # the worker must always end in finish
            with contextlib.suppress(Exception):
                sys.stderr.write(f"error: the FLX daemon could not run this: {exc}\n")
        finally:
            finish(conn, code)

    def _drop_daemon_state(self, conn: socket.socket) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # the daemon keeps its lock; a worker must not hold it
        if self._selector is not None:
            self._selector.close()
        if self._listener is not None:
            self._listener.close()
        for worker in self.workers.values():
            with contextlib.suppress(OSError):
                os.close(worker.pidfd)
            worker.conn.close()
        conn.settimeout(None)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def take_lock(path: Path) -> Any:
    """The lock file of the daemon at ``path``, locked; None when another daemon holds it."""
    handle = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 (held while listening)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def main() -> None:
    os.chdir("/")  # hold no directory of whoever started it
    directory = protocol.runtime_dir()
    if directory is None:
        sys.exit("flx daemon: no private runtime directory (see FLX_DAEMON_DIR)")
    code = protocol.fingerprint()
    path = Path(protocol.socket_path(directory, code))
    lock = take_lock(path)
    if lock is None:
        return  # another daemon of this code listens: nothing to preload for
    preload()
    idle = float(os.environ.get("FLX_DAEMON_IDLE_SECONDS", "1800"))
    daemon = Daemon(path, code, idle)
    me = os.getpid()

    def on_signal(signum: int, _frame: Any) -> None:
        # A worker resets these at once; until then it must not close the daemon's socket.
        if os.getpid() == me:
            daemon.stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.serve(lock)


if __name__ == "__main__":
    main()
