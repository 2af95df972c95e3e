"""What can go wrong talking to a server, each said in one line (no traceback).

Standard library only: the CLI's error handling imports this without the HTTP client.
"""

from __future__ import annotations


class RemoteError(Exception):
    """A failure of the conversation with the server itself (not of the operation asked):
    the CLI prints the message as one line and exits 1."""


class NotLoggedIn(RemoteError):
    """No credentials for the server, or it refused them and the refresh token too."""

    def __init__(self, server: str, reason: str | None = None) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(f"not logged in to {server}{why}: run `flx --server {server} auth login`")
        self.server = server


class ServerUnreachable(RemoteError):
    """No answer from the server: refused connection, unknown host, timeout."""
