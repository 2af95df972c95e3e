"""Domain events of the auth context.

Every event about a user's account or sessions uses the user's id as ``aggregate_id``, so
the audit trail of one user is one query; the session concerned travels in the payload.
No event carries a password, a hash or a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flx_core.domain import DomainEvent


class UserCreated(DomainEvent):
    email: str
    roles: list[str]


class UserUpdated(DomainEvent):
    email: str
    changes: dict[str, Any]


class UserDeleted(DomainEvent):
    email: str


class UserRoleChanged(DomainEvent):
    email: str
    old_roles: list[str]
    new_roles: list[str]


class PasswordReset(DomainEvent):
    email: str


class LoginSucceeded(DomainEvent):
    email: str
    session_id: str
    user_agent: str | None = None
    address: str | None = None


class LoginFailed(DomainEvent):
    email: str
    #: ``bad_credentials``, ``unknown_email``, ``account_locked`` or ``account_disabled``.
    reason: str
    failed_logins: int = 0
    address: str | None = None


class AccountLocked(DomainEvent):
    email: str
    locked_until: datetime
    failed_logins: int


class LoggedOut(DomainEvent):
    email: str
    session_id: str | None


class SessionRevoked(DomainEvent):
    email: str
    session_id: str
    reason: str


class RefreshTokenReuseDetected(DomainEvent):
    email: str
    session_id: str


class SigningKeyRotated(DomainEvent):
    kid: str
    previous_kid: str | None
