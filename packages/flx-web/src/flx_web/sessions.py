"""The FLX session a dashboard session holds: the access and refresh tokens of a login,
kept in the signed session cookie, the access token refreshed when it has expired."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from pydantic import SecretStr

from flx_auth import Logout, Refresh, TokenPair, TokenRejected, authenticate
from flx_core.domain import DomainError, Principal
from flx_web import runtime
from flx_web.bus import Caller

#: The key of the FLX session in the Django session.
SESSION_KEY = "flx"


def client_address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def user_agent(request: HttpRequest) -> str | None:
    return (request.headers.get("user-agent") or "")[:512] or None


def keep(request: HttpRequest, email: str, pair: TokenPair) -> None:
    """Hold a login's tokens in the session cookie."""
    request.session[SESSION_KEY] = {
        "email": email,
        "access": pair.access_token,
        "refresh": pair.refresh_token,
        "session_id": pair.session_id,
    }


async def signed_in_caller(request: HttpRequest) -> Caller | None:
    """The user of the request's session, or None (no session, or one that ended: its
    refresh token was revoked or expired)."""
    held: dict[str, Any] | None = request.session.get(SESSION_KEY)
    if not held:
        return None
    app = runtime.current().app
    principal: Principal | None
    try:
        principal = await authenticate(app, held["access"])
    except (TokenRejected, DomainError):
        principal = await _refreshed(request, held)
    if principal is None:
        request.session.pop(SESSION_KEY, None)
        return None
    return Caller(app, principal, held["email"])


async def _refreshed(request: HttpRequest, held: dict[str, Any]) -> Principal | None:
    app = runtime.current().app
    result = await app.execute(
        Refresh(
            refresh_token=SecretStr(held["refresh"]),
            user_agent=user_agent(request),
            address=client_address(request),
        ),
        principal=Principal.anonymous(),
    )
    pair: TokenPair | None = result.value
    if not result.ok or pair is None:
        return None
    keep(request, held["email"], pair)
    try:
        return await authenticate(app, pair.access_token)
    except (TokenRejected, DomainError):
        return None


async def end(request: HttpRequest) -> None:
    """Log out: the FLX session ends (both tokens stop working), the cookie is emptied."""
    held: dict[str, Any] | None = request.session.get(SESSION_KEY)
    if held:
        app = runtime.current().app
        await app.execute(
            Logout(
                access_token=SecretStr(held["access"]), refresh_token=SecretStr(held["refresh"])
            ),
            principal=Principal.anonymous(),
        )
    request.session.flush()
