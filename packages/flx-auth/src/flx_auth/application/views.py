"""What the auth use cases return: never a password hash; tokens only from Login/Refresh."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flx_auth.domain import Session, User
from flx_auth.security import TokenClaims
from flx_core.domain import DomainValueObject


class UserView(DomainValueObject):
    id: str
    email: str
    roles: list[str]
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(
            id=user.id,
            email=user.email,
            roles=user.role_names,
            active=user.active,
            failed_logins=user.failed_logins,
            locked_until=user.locked_until,
            created_at=user.created_at,
            updated_at=user.updated_at,
            last_login_at=user.last_login_at,
        )


class SessionView(DomainValueObject):
    id: str
    user_id: str
    email: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    address: str | None
    revoked_at: datetime | None
    revoked_reason: str | None
    active: bool

    @classmethod
    def of(cls, session: Session, now: datetime) -> SessionView:
        data = session.model_dump(exclude={"version"})
        return cls(**data, active=session.is_active(now))


class TokenPair(DomainValueObject):
    access_token: str = Field(repr=False)
    refresh_token: str = Field(repr=False)
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    expires_at: datetime
    refresh_expires_at: datetime
    session_id: str


class VerifiedToken(DomainValueObject):
    """A valid token's claims and the account it belongs to (as it is now)."""

    claims: TokenClaims
    email: str
    roles: list[str]


class RevokedSessions(DomainValueObject):
    email: str
    revoked: list[str]


class KeyRotation(DomainValueObject):
    kid: str
    previous_kid: str | None
