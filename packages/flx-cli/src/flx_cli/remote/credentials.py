"""The tokens `flx auth login` got from each server, kept in ``$FLX_HOME/credentials``.

One JSON file, mode 0600 in the 0700 home, holding per server URL the access token, the
refresh token and when each expires. The refresh token is rotated by every refresh, and a
refresh token used twice ends the whole session on the server; so the processes that share
the file refresh one at a time, under an exclusive lock (``credentials.lock``), and each
first looks whether another one already did.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flx_cli.remote.errors import RemoteError
from flx_core.infrastructure.private_files import FILE_MODE, ensure_private_dir

#: How long a process waits for another one that is refreshing the same tokens.
LOCK_TIMEOUT_SECONDS = 30.0
FORMAT_VERSION = 1


def normalise_server(url: str) -> str:
    """The key of a server: its URL without a trailing slash, scheme and host lowercased."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), parts.query, "")
    )


@dataclass(frozen=True)
class Credentials:
    """One server's tokens (never printed: ``repr`` shows neither token)."""

    server: str
    email: str | None
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None = None
    session_id: str | None = None
    #: When this machine got the access token (its lifetime is expires_at less that).
    obtained_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Credentials(server={self.server!r}, email={self.email!r})"

    @classmethod
    def from_pair(cls, server: str, email: str | None, pair: dict[str, Any]) -> Credentials:
        """From a TokenPair answer of ``/auth/login`` or ``/auth/refresh``."""
        refresh_expires = pair.get("refresh_expires_at")
        return cls(
            server=server,
            email=email,
            access_token=str(pair["access_token"]),
            refresh_token=str(pair["refresh_token"]),
            expires_at=_aware(datetime.fromisoformat(str(pair["expires_at"]))),
            refresh_expires_at=(
                _aware(datetime.fromisoformat(str(refresh_expires))) if refresh_expires else None
            ),
            session_id=pair.get("session_id"),
            obtained_at=(
                _aware(datetime.fromisoformat(str(pair["obtained_at"])))
                if pair.get("obtained_at")
                else datetime.now(UTC)
            ),
        )

    def expires_within(self, seconds: float) -> bool:
        """Whether the access token expires within ``seconds``, or within a quarter of its
        lifetime if that is shorter (a token that lives seconds is not refreshed at once)."""
        if self.obtained_at is not None:
            seconds = min(seconds, (self.expires_at - self.obtained_at).total_seconds() / 4)
        return (self.expires_at - datetime.now(UTC)).total_seconds() < seconds

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("server")
        for key in ("expires_at", "refresh_expires_at", "obtained_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data

    @classmethod
    def from_json(cls, server: str, data: dict[str, Any]) -> Credentials:
        return cls.from_pair(server, data.get("email"), data)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class CredentialStore:
    """The credentials file of one FLX home."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path = home / "credentials"
        self._lock_path = home / "credentials.lock"

    # -- reading and writing -------------------------------------------------------------
    def _read(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise RemoteError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text)
        except ValueError:
            raise RemoteError(
                f"{self.path} is not a credentials file; delete it and run `flx auth login`"
            ) from None
        servers = data.get("servers") if isinstance(data, dict) else None
        return servers if isinstance(servers, dict) else {}

    def _write(self, servers: dict[str, Any]) -> None:
        """Replace the file at once (a reader never sees half of it), mode 0600."""
        if not servers:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        ensure_private_dir(self.home)
        temporary = self.path.with_name(f".credentials.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # a leftover file keeps its mode through O_CREAT
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": FORMAT_VERSION, "servers": servers}, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            raise

    def get(self, server: str) -> Credentials | None:
        entry = self._read().get(normalise_server(server))
        if not isinstance(entry, dict):
            return None
        try:
            return Credentials.from_json(normalise_server(server), entry)
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, credentials: Credentials) -> None:
        servers = self._read()
        servers[normalise_server(credentials.server)] = credentials.to_json()
        self._write(servers)

    def remove(self, server: str) -> bool:
        """Forget the server's tokens; False if there were none."""
        servers = self._read()
        if servers.pop(normalise_server(server), None) is None:
            return False
        self._write(servers)
        return True

    # -- one writer at a time ------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def locked(self) -> Any:
        """Hold the exclusive lock of the file (across processes) while the block runs.

        Waits without blocking the event loop; gives up after ``LOCK_TIMEOUT_SECONDS``.
        """
        ensure_private_dir(self.home)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RemoteError(
                            f"{self._lock_path} stayed locked for {LOCK_TIMEOUT_SECONDS:g} s "
                            "(another flx refreshing its tokens?)"
                        ) from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock
