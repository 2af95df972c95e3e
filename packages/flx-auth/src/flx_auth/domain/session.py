"""Sessions: a session is a family of refresh tokens, each used once and replaced."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from flx_auth.domain.events import RefreshTokenReuseDetected, SessionRevoked
from flx_core.domain import DomainAggregateRoot, DomainValueObject, new_id


class RefreshToken(DomainValueObject):
    """One refresh token of a session, known by the SHA-256 of its secret only.

    It remembers the access token issued with it, so revoking the session can also refuse
    the access tokens still alive.
    """

    token_hash: str = Field(repr=False)
    session_id: str
    user_id: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    access_jti: str
    access_expires_at: datetime

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class AccessGrant(DomainValueObject):
    """An access token a session issued: its ``jti`` and when it stops being valid."""

    jti: str
    expires_at: datetime


class Session(DomainAggregateRoot):
    id: str = Field(default_factory=new_id)
    user_id: str
    email: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    address: str | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: datetime) -> bool:
        return not self.is_revoked and now < self.expires_at

    def used(self, now: datetime, expires_at: datetime) -> None:
        """A refresh token was exchanged: the session lives until the new one expires."""
        self.last_used_at = now
        self.expires_at = expires_at

    def revoke(self, now: datetime, reason: str) -> bool:
        """End the session; False when it already was."""
        if self.is_revoked:
            return False
        self.revoked_at = now
        self.revoked_reason = reason
        self.record(
            SessionRevoked(
                aggregate_id=self.user_id,
                occurred_at=now,
                email=self.email,
                session_id=self.id,
                reason=reason,
            )
        )
        return True

    def reuse_detected(self, now: datetime) -> None:
        """A refresh token that was already exchanged came back: someone copied it."""
        self.record(
            RefreshTokenReuseDetected(
                aggregate_id=self.user_id, occurred_at=now, email=self.email, session_id=self.id
            )
        )
        self.revoke(now, "refresh token reuse detected")
