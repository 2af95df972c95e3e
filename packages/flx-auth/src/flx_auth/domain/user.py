"""The User aggregate: identity, credentials, roles and the login-protection rules."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, field_validator

from flx_auth.domain.events import (
    AccountLocked,
    LoggedOut,
    LoginFailed,
    LoginSucceeded,
    PasswordReset,
    UserCreated,
    UserDeleted,
    UserRoleChanged,
    UserUpdated,
)
from flx_auth.domain.roles import Role, permissions_for
from flx_core.domain import (
    DomainAggregateRoot,
    DomainValueObject,
    Principal,
    ValidationFailed,
    new_id,
    utc_now,
)

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


def normalize_email(value: str) -> str:
    """Trimmed and lower-cased; refused unless it looks like ``name@domain``."""
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        raise ValueError(f"invalid email address {value!r}")
    return email


class LoginPolicy(DomainValueObject):
    """How many consecutive failures lock an account, and for how long."""

    max_failures: int = Field(default=5, ge=1)
    lock_seconds: int = Field(default=15 * 60, ge=1)


class User(DomainAggregateRoot):
    id: str = Field(default_factory=new_id)
    email: str
    password_hash: str = Field(repr=False)
    active: bool = True
    roles: frozenset[Role] = frozenset({Role.VIEWER})
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    last_login_at: datetime | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        return normalize_email(v)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: frozenset[Role]) -> frozenset[Role]:
        if not v:
            raise ValueError("a user needs at least one role")
        return v

    @property
    def role_names(self) -> list[str]:
        return sorted(r.value for r in self.roles)

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    @classmethod
    def create(
        cls, *, email: str, password_hash: str, roles: frozenset[Role], now: datetime
    ) -> User:
        user = cls(
            email=email, password_hash=password_hash, roles=roles, created_at=now, updated_at=now
        )
        user.record(
            UserCreated(
                aggregate_id=user.id, occurred_at=now, email=user.email, roles=user.role_names
            )
        )
        return user

    # -- administration --------------------------------------------------------------------
    def _updated(self, now: datetime, changes: dict[str, Any]) -> None:
        self.updated_at = now
        self.record(
            UserUpdated(aggregate_id=self.id, occurred_at=now, email=self.email, changes=changes)
        )

    def disable(self, now: datetime) -> bool:
        if not self.active:
            return False
        self.active = False
        self._updated(now, {"active": False})
        return True

    def enable(self, now: datetime) -> bool:
        """Activate the account again; this also lifts a lock."""
        if self.active and not self.is_locked(now):
            return False
        self.active = True
        self.unlock()
        self._updated(now, {"active": True})
        return True

    def change_roles(self, roles: frozenset[Role], now: datetime) -> bool:
        if not roles:
            raise ValidationFailed("a user needs at least one role")
        if roles == self.roles:
            return False
        old = self.role_names
        self.roles = roles
        self.updated_at = now
        self.record(
            UserRoleChanged(
                aggregate_id=self.id,
                occurred_at=now,
                email=self.email,
                old_roles=old,
                new_roles=self.role_names,
            )
        )
        return True

    def reset_password(self, password_hash: str, now: datetime) -> None:
        """A new password; it also lifts a lock (an administrator vouched for the account)."""
        self.password_hash = password_hash
        self.unlock()
        self.updated_at = now
        self.record(PasswordReset(aggregate_id=self.id, occurred_at=now, email=self.email))

    def delete(self, now: datetime) -> None:
        self.record(UserDeleted(aggregate_id=self.id, occurred_at=now, email=self.email))

    # -- logging in --------------------------------------------------------------------------
    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def unlock(self) -> None:
        self.failed_logins = 0
        self.locked_until = None

    def login_refused(self, reason: str, now: datetime, address: str | None = None) -> None:
        """A refusal that does not count as a failure (the account is locked or disabled)."""
        self.record(
            LoginFailed(
                aggregate_id=self.id,
                occurred_at=now,
                email=self.email,
                reason=reason,
                failed_logins=self.failed_logins,
                address=address,
            )
        )

    def login_failed(
        self, now: datetime, policy: LoginPolicy, failures: int, address: str | None = None
    ) -> None:
        """A wrong password. ``failures`` is the consecutive count including this one (the
        store increments it atomically); reaching the policy's maximum locks the account."""
        if self.locked_until is not None and not self.is_locked(now):
            self.locked_until = None  # an expired lock no longer matters
        self.failed_logins = failures
        self.login_refused("bad_credentials", now, address)
        if failures >= policy.max_failures:
            self.locked_until = now + timedelta(seconds=policy.lock_seconds)
            self.record(
                AccountLocked(
                    aggregate_id=self.id,
                    occurred_at=now,
                    email=self.email,
                    locked_until=self.locked_until,
                    failed_logins=failures,
                )
            )
            self.failed_logins = 0

    def login_succeeded(
        self,
        now: datetime,
        session_id: str,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> None:
        self.unlock()
        self.last_login_at = now
        self.record(
            LoginSucceeded(
                aggregate_id=self.id,
                occurred_at=now,
                email=self.email,
                session_id=session_id,
                user_agent=user_agent,
                address=address,
            )
        )

    def logged_out(self, session_id: str | None, now: datetime) -> None:
        self.record(
            LoggedOut(
                aggregate_id=self.id, occurred_at=now, email=self.email, session_id=session_id
            )
        )


class UnknownAccount(DomainAggregateRoot):
    """Where failed logins to an email no user has are recorded (for the audit trail)."""

    id: str = "unknown-account"

    def login_failed(self, email: str, now: datetime, address: str | None = None) -> None:
        self.record(
            LoginFailed(
                aggregate_id=self.id,
                occurred_at=now,
                email=email[:254],
                reason="unknown_email",
                address=address,
            )
        )


def principal_for(user: User) -> Principal:
    """The principal a user acts as: subject is the email, permissions come from the roles."""
    return Principal(
        subject=user.email,
        roles=frozenset(user.role_names),
        permissions=permissions_for(user.roles),
    )
