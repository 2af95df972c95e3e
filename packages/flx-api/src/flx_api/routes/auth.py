"""``/auth``: login, refresh, logout (public: holding the credentials is the authorization),
and the caller's own account and sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field, SecretStr

from flx_api.deps import Bus, ClientAddress, PublicBus
from flx_api.problems import ApiProblem, problem_responses
from flx_auth import (
    CurrentUser,
    ListOwnSessions,
    Login,
    Logout,
    Refresh,
    RevokedSessions,
    RevokeOwnSession,
    SessionView,
    TokenPair,
    UserView,
)

router = APIRouter(prefix="/auth", tags=["auth"], responses=problem_responses(422, 429))


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    password: SecretStr


class RefreshRequest(BaseModel):
    refresh_token: SecretStr


class LogoutRequest(BaseModel):
    refresh_token: SecretStr | None = None


async def _login_allowed(request: Request, address: str, email: str) -> None:
    """The stricter limit of login attempts, per address and per email."""
    from limits import parse

    limits = request.app.state.limits
    rate = parse(request.app.state.settings.api_login_rate_limit)
    for key in (f"addr:{address}", f"email:{email}"):
        verdict = await limits.hit(rate, "login", key)
        if not verdict.allowed:
            raise ApiProblem(
                429,
                "rate_limited",
                f"too many login attempts; retry in {verdict.reset_after} s",
                headers=verdict.headers(),
            )


@router.post("/login", response_model=TokenPair, responses=problem_responses(401))
async def login(
    body: LoginRequest, request: Request, bus: PublicBus, address: ClientAddress
) -> TokenPair:
    """Exchange an email and password for an access token and a refresh token."""
    await _login_allowed(request, address, body.email)
    pair: TokenPair = await bus(
        Login(
            email=body.email,
            password=body.password,
            user_agent=(request.headers.get("user-agent") or "")[:512] or None,
            address=address,
        )
    )
    return pair


@router.post("/refresh", response_model=TokenPair, responses=problem_responses(401))
async def refresh(
    body: RefreshRequest, request: Request, bus: PublicBus, address: ClientAddress
) -> TokenPair:
    """A new token pair for a refresh token; the old refresh token is spent (a reused one
    ends the whole session)."""
    pair: TokenPair = await bus(
        Refresh(
            refresh_token=body.refresh_token,
            user_agent=(request.headers.get("user-agent") or "")[:512] or None,
            address=address,
        )
    )
    return pair


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401))
async def logout(request: Request, bus: PublicBus, body: LogoutRequest | None = None) -> Response:
    """End the session of the bearer token (and of the refresh token, if given)."""
    header = request.headers.get("authorization", "")
    access = header[7:].strip() if header.lower().startswith("bearer ") else None
    refresh_token = body.refresh_token if body else None
    if not access and refresh_token is None:
        raise ApiProblem(
            401, "unauthenticated", "give the bearer token or the refresh token to log out"
        )
    await bus(
        Logout(access_token=SecretStr(access) if access else None, refresh_token=refresh_token)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


SessionId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/me", response_model=UserView, responses=problem_responses(401))
async def get_current_user(bus: Bus) -> UserView:
    """The caller's own account."""
    user: UserView = await bus(CurrentUser())
    return user


@router.get("/sessions", response_model=list[SessionView], responses=problem_responses(401))
async def list_own_sessions(bus: Bus, include_revoked: bool = False) -> list[SessionView]:
    """The caller's own sessions (one per login), newest first."""
    found: list[SessionView] = await bus(ListOwnSessions(include_revoked=include_revoked))
    return found


@router.delete(
    "/sessions/{session_id}",
    response_model=RevokedSessions,
    responses=problem_responses(401, 404),
)
async def revoke_own_session(session_id: SessionId, bus: Bus) -> RevokedSessions:
    """End one of the caller's own sessions: its refresh token and access tokens stop
    working. Another user's session id is answered 404, as an unknown one is."""
    revoked: RevokedSessions = await bus(RevokeOwnSession(session_id=session_id))
    return revoked
