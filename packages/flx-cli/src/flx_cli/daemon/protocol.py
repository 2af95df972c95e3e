"""What the `flx` client and the FLX daemon share: where the socket is, which code it runs,
and how messages are framed. Standard library only, and few modules of it: the client imports
this before anything else, so a warm `flx` command starts in milliseconds.

A message is a 4-byte big-endian length followed by that many bytes of JSON. The request
carries the client's stdin, stdout and stderr as file descriptors (SCM_RIGHTS).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import sysconfig

try:  # the C module itself: hashlib would load OpenSSL, a few milliseconds on every start
    from _blake2 import blake2b
except ImportError:  # pragma: no cover (CPython always has it)
    from hashlib import blake2b

VERSION = 1
#: The packages whose code a daemon has imported: any change to them makes a new daemon.
PACKAGES = ("flx_core", "flx_cli", "flx_meltano", "flx_auth", "flx_plugin", "flx_observability")
#: `flx` commands that stay in their own process: `user` and `auth` read passwords with the
#: echo off, which needs the caller's controlling terminal; `daemon` controls the daemon
#: from outside; `serve`, `worker` and `scheduler` are long-lived processes that belong in
#: their caller's process tree (and gain nothing from a faster start). Every other command
#: may go to the daemon.
IN_PROCESS = frozenset({"user", "auth", "daemon", "serve", "worker", "scheduler"})
#: Global flags of `flx` that may come before the command (none takes a value).
GLOBAL_FLAGS = frozenset({"--debug", "--verbose", "-v", "--json"})
OFF = frozenset({"off", "0", "false", "no"})
ON = frozenset({"on", "1", "true", "yes"})
_HEADER_SIZE = 4
MAX_MESSAGE = 16 * 1024 * 1024


class ProtocolError(Exception):
    """A peer sent something that is not a message of this protocol."""


def mode() -> str:
    """``FLX_DAEMON``: ``auto`` (the default), ``on`` or ``off``.

    ``auto`` uses the daemon for interactive commands only (see :func:`interactive`), ``on``
    for every command whatever its stdio, ``off`` for none. An unknown value counts as
    ``auto``. Always ``off`` outside Linux: the daemon relies on pidfd_open and SO_PEERCRED.
    """
    value = os.environ.get("FLX_DAEMON", "auto").strip().lower()
    if value in OFF or not sys.platform.startswith("linux"):
        return "off"
    return "on" if value in ON else "auto"


def interactive() -> bool:
    """Whether this process's stdin and stdout are both terminals: someone typed the command.

    Anything else (a pipe, a file, /dev/null: cron, systemd, CI, a script) runs in its own
    process, inside its caller's cgroup, limits and process tree.
    """
    try:
        return os.isatty(0) and os.isatty(1)
    except OSError:
        return False


def command_of(argv: list[str]) -> str | None:
    """The `flx` command in ``argv`` (the arguments after ``flx``), if only global flags lead."""
    for arg in argv:
        if arg in GLOBAL_FLAGS:
            continue
        if arg.startswith("-"):
            return None
        return arg
    return None


def eligible(argv: list[str]) -> bool:
    """Whether this invocation may run in the daemon (not help or version output: they are
    fast anyway)."""
    command = command_of(argv)
    return command is not None and command not in IN_PROCESS and not ({"-h", "--help"} & set(argv))


def runtime_dir() -> str | None:
    """The private directory holding the sockets, created 0700; None when it is not safe.

    ``FLX_DAEMON_DIR``, else ``$XDG_RUNTIME_DIR/flx``, else ``/tmp/flx-<uid>``. A directory
    that another user owns, or that others may write or read, is refused.
    """
    configured = os.environ.get("FLX_DAEMON_DIR")
    if configured:
        path = configured
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = os.path.join(os.environ["XDG_RUNTIME_DIR"], "flx")
    else:
        path = f"/tmp/flx-{os.getuid()}"  # noqa: S108 (checked below: ours, 0700)
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def _package_dirs() -> list[str]:
    from importlib.util import find_spec

    dirs: list[str] = []
    for name in PACKAGES:
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(spec.submodule_search_locations)
    return dirs


def _purelib() -> str:
    return sysconfig.get_paths()["purelib"]


def _installed(site: str) -> list[str]:
    """``name mtime`` of each distribution's metadata directory in ``site``. Not the
    directory's own mtime: compiling bytecode there moves it without changing any code."""
    stamps = []
    try:
        entries = list(os.scandir(site))
    except OSError:
        return stamps
    for entry in entries:
        if entry.name.endswith(".dist-info"):
            try:
                stamps.append(f"{entry.name} {entry.stat(follow_symlinks=False).st_mtime_ns}")
            except OSError:
                stamps.append(entry.name)
    return sorted(stamps)


def fingerprint() -> str:
    """Which code a process of this interpreter would run: FLX's sources and the installed set.

    The interpreter, its PYTHON* environment, the installed distributions (each metadata
    directory's name, which holds the version, and mtime, which moves on a reinstall) and
    every source file of FLX's packages (path, size, mtime). A daemon serves only clients
    with its own fingerprint.
    """
    digest = blake2b(digest_size=32)
    digest.update(f"{VERSION}\0{sys.executable}\0{sys.version}\0".encode())
    for key in sorted(k for k in os.environ if k.startswith("PYTHON")):
        digest.update(f"{key}={os.environ[key]}\0".encode())
    for stamp in _installed(_purelib()):
        digest.update(f"{stamp}\0".encode())
    for root in _package_dirs():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    try:  # an editor's lock file is a dangling link; a file may just go
                        info = os.stat(os.path.join(dirpath, name))
                        stamp = f"{info.st_size}\0{info.st_mtime_ns}"
                    except OSError:
                        stamp = "-"
                    digest.update(f"{dirpath}/{name}\0{stamp}\0".encode())
    return digest.hexdigest()


def _peer_credentials(sock: socket.socket) -> tuple[int, int]:
    """The pid and user id of the process at the other end of a Unix socket (SO_PEERCRED:
    the process that connected, or that listens)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[0:4], sys.byteorder), int.from_bytes(creds[4:8], sys.byteorder)


def peer_uid(sock: socket.socket) -> int:
    return _peer_credentials(sock)[1]


def peer_pid(sock: socket.socket) -> int:
    return _peer_credentials(sock)[0]


def socket_path(directory: str, code: str) -> str:
    return os.path.join(directory, f"daemon-{code[:24]}.sock")


def encode(message: dict[str, object]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return len(body).to_bytes(_HEADER_SIZE, "big") + body


def send(sock: socket.socket, message: dict[str, object], fds: list[int] | None = None) -> None:
    data = encode(message)
    if fds:
        sent = socket.send_fds(sock, [data], fds)
        data = data[sent:]
    if data:
        sock.sendall(data)


def _read_exactly(sock: socket.socket, size: int, start: bytes = b"") -> bytes:
    data = bytearray(start)
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        if not chunk:
            raise ProtocolError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def _decode(body: bytes) -> dict[str, object]:
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def receive(sock: socket.socket) -> dict[str, object] | None:
    """The next message, or None when the peer closed the connection before sending one."""
    first = sock.recv(_HEADER_SIZE)
    if not first:
        return None
    size = int.from_bytes(_read_exactly(sock, _HEADER_SIZE, first), "big")
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes is over the limit")
    return _decode(_read_exactly(sock, size))


def receive_with_fds(sock: socket.socket, max_fds: int) -> tuple[dict[str, object], list[int]]:
    """A message and the file descriptors sent with its first bytes.

    Reads no further than the message: whatever follows it stays for the next read.
    """
    data, fds, _flags, _addr = socket.recv_fds(sock, _HEADER_SIZE, max_fds)
    try:
        size = int.from_bytes(_read_exactly(sock, _HEADER_SIZE, data), "big")
        if size > MAX_MESSAGE:
            raise ProtocolError(f"message of {size} bytes is over the limit")
        return _decode(_read_exactly(sock, size)), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
