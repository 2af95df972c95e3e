"""``/users``: the accounts and their sessions, for administrators.

Reading needs ``user:read`` and changing ``user:manage``; the bus checks both. A password
goes in, never out: every answer is a ``UserView``, which has no password hash.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_auth import (
    CreateUser,
    DeleteUser,
    GetUser,
    ListSessions,
    ListUsers,
    ResetPassword,
    RevokeAllSessions,
    RevokedSessions,
    RevokeSession,
    Role,
    SessionView,
    UpdateUser,
    UserView,
    normalize_email,
)

router = APIRouter(
    prefix="/users",
    tags=["users"],
    responses=problem_responses(401, 403, 404, 422, 429),
)

#: A user's email in the path, normalized as the accounts store it (``Ada@X.org`` finds
#: ``ada@x.org``); something that is no email at all is 422, not 404.
EmailPath = Annotated[
    str, AfterValidator(normalize_email), Path(max_length=320, description="The user's email")
]
SessionId = Annotated[str, Path(min_length=1, max_length=64)]


class UserPatch(BaseModel):
    """The changes to make; those left out stay as they are. Disabling ends the user's
    sessions; enabling also lifts a login lock."""

    model_config = ConfigDict(extra="forbid")

    roles: frozenset[Role] | None = Field(
        default=None, min_length=1, description="The user's roles from now on (replaces them)"
    )
    active: bool | None = Field(default=None, description="False refuses logins and tokens")


class NewPassword(BaseModel):
    password: SecretStr = Field(description="The new password (the password policy applies)")


@router.get("", response_model=list[UserView])
async def list_users(bus: Bus) -> list[UserView]:
    found: list[UserView] = await bus(ListUsers())
    return found


@router.post(
    "",
    response_model=UserView,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_user(body: CreateUser, bus: Bus, response: Response) -> UserView:
    """A new account; a password the policy refuses is 422 naming the rule."""
    user: UserView = await bus(body)
    response.headers["Location"] = f"/api/v1/users/{quote(user.email, safe='@')}"
    return user


@router.get("/{email}", response_model=UserView)
async def get_user(email: EmailPath, bus: Bus) -> UserView:
    user: UserView = await bus(GetUser(email=email))
    return user


@router.patch("/{email}", response_model=UserView)
async def update_user(email: EmailPath, body: UserPatch, bus: Bus) -> UserView:
    """Change roles and the active flag together: all of it applies or nothing does. The
    last active admin can be neither demoted nor disabled."""
    user: UserView = await bus(UpdateUser(email=email, roles=body.roles, active=body.active))
    return user


@router.post("/{email}/password", response_model=UserView)
async def reset_user_password(email: EmailPath, body: NewPassword, bus: Bus) -> UserView:
    """Set a new password; the user's sessions end and a login lock is lifted."""
    user: UserView = await bus(ResetPassword(email=email, password=body.password))
    return user


@router.delete("/{email}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(email: EmailPath, bus: Bus) -> Response:
    await bus(DeleteUser(email=email))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{email}/sessions", response_model=list[SessionView])
async def list_user_sessions(
    email: EmailPath, bus: Bus, include_revoked: bool = False
) -> list[SessionView]:
    """The user's sessions (one per login), newest first."""
    found: list[SessionView] = await bus(ListSessions(email=email, include_revoked=include_revoked))
    return found


@router.delete("/{email}/sessions", response_model=RevokedSessions)
async def revoke_user_sessions(email: EmailPath, bus: Bus) -> RevokedSessions:
    """End every session of the user: their refresh and access tokens stop working."""
    revoked: RevokedSessions = await bus(RevokeAllSessions(email=email))
    return revoked


@router.delete("/{email}/sessions/{session_id}", response_model=RevokedSessions)
async def revoke_user_session(email: EmailPath, session_id: SessionId, bus: Bus) -> RevokedSessions:
    """End one session of the user; a session of another user is 404."""
    revoked: RevokedSessions = await bus(RevokeSession(session_id=session_id, email=email))
    return revoked
