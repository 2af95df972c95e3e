"""What the `flx` client and the FLX daemon share: where the socket is, which code it runs,
and how messages are framed. Standard library only: the client imports this before anything
else, so a warm `flx run` starts in milliseconds.

A message is a 4-byte big-endian length followed by that many bytes of JSON. The request
carries the client's stdin, stdout and stderr as file descriptors (SCM_RIGHTS).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import sysconfig
from pathlib import Path
from typing import Any

VERSION = 1
#: The packages whose code a daemon has imported: any change to them makes a new daemon.
PACKAGES = ("flx_core", "flx_cli", "flx_meltano", "flx_auth", "flx_plugin", "flx_observability")
#: `flx` commands handed to the daemon (those whose start-up time matters and never prompt).
COMMANDS = frozenset({"run"})
#: Global flags of `flx` that may come before the command (none takes a value).
GLOBAL_FLAGS = frozenset({"--debug", "--verbose", "-v", "--json"})
OFF = frozenset({"off", "0", "false", "no"})
_HEADER = struct.Struct(">I")
MAX_MESSAGE = 16 * 1024 * 1024


class ProtocolError(Exception):
    """A peer sent something that is not a message of this protocol."""


def mode() -> str:
    """``FLX_DAEMON``: ``auto`` (default: use a daemon, start one after a cold run) or ``off``."""
    value = os.environ.get("FLX_DAEMON", "auto").strip().lower()
    return "off" if value in OFF else "auto"


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
    """Whether this invocation may run in the daemon (never for help or version output)."""
    return command_of(argv) in COMMANDS and not ({"-h", "--help"} & set(argv))


def runtime_dir() -> Path | None:
    """The private directory holding the sockets, created 0700; None when it is not safe.

    ``FLX_DAEMON_DIR``, else ``$XDG_RUNTIME_DIR/flx``, else ``/tmp/flx-<uid>``. A directory
    that another user owns, or that others may write or read, is refused.
    """
    configured = os.environ.get("FLX_DAEMON_DIR")
    if configured:
        path = Path(configured)
    elif os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(os.environ["XDG_RUNTIME_DIR"]) / "flx"
    else:
        path = Path("/tmp") / f"flx-{os.getuid()}"  # noqa: S108 (checked below: ours, 0700)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def _package_dirs() -> list[Path]:
    from importlib.util import find_spec

    dirs = []
    for name in PACKAGES:
        try:
            spec = find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            dirs.extend(Path(p) for p in spec.submodule_search_locations)
    return dirs


def fingerprint() -> str:
    """Which code a process of this interpreter would run: FLX's sources and the installed set.

    The interpreter, its PYTHON* environment, the site-packages directory (its mtime moves
    when a distribution is installed or removed) and every source file of FLX's packages
    (path, size, mtime). A daemon serves only clients with its own fingerprint.
    """
    digest = hashlib.sha256()
    digest.update(f"{VERSION}\0{sys.executable}\0{sys.version}\0".encode())
    for key in sorted(k for k in os.environ if k.startswith("PYTHON")):
        digest.update(f"{key}={os.environ[key]}\0".encode())
    with contextlib.suppress(OSError):
        digest.update(str(os.stat(sysconfig.get_paths()["purelib"]).st_mtime_ns).encode())
    for root in _package_dirs():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for name in sorted(filenames):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(dirpath, name))
                    digest.update(
                        f"{dirpath}/{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode()
                    )
    return digest.hexdigest()


def socket_path(directory: Path, code: str) -> Path:
    return directory / f"daemon-{code[:24]}.sock"


def encode(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
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


def _decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def receive(sock: socket.socket) -> dict[str, Any] | None:
    """The next message, or None when the peer closed the connection before sending one."""
    first = sock.recv(_HEADER.size)
    if not first:
        return None
    head = _read_exactly(sock, _HEADER.size, first)
    (size,) = _HEADER.unpack(head)
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes is over the limit")
    return _decode(_read_exactly(sock, size))


def receive_with_fds(sock: socket.socket, max_fds: int) -> tuple[dict[str, Any], list[int]]:
    """A message and the file descriptors sent with its first bytes."""
    data, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, max_fds)
    try:
        if len(data) < _HEADER.size:
            data = _read_exactly(sock, _HEADER.size, data)
        (size,) = _HEADER.unpack(data[: _HEADER.size])
        if size > MAX_MESSAGE:
            raise ProtocolError(f"message of {size} bytes is over the limit")
        body = _read_exactly(sock, size, data[_HEADER.size :])
        if len(body) != size:
            raise ProtocolError("more bytes than the message announced")
        return _decode(body), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
