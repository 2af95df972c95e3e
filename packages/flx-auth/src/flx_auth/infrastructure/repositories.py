"""SQL adapters of the auth ports; they join the unit of work's session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flx_auth.domain import (
    AccessGrant,
    Blacklist,
    RefreshToken,
    Role,
    Session,
    SessionRepository,
    User,
    UserRepository,
)
from flx_auth.infrastructure import tables as t
from flx_core.domain import AlreadyExists, ConcurrencyConflict


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _row(row: Any, *times: str) -> dict[str, Any]:
    values = dict(row._mapping)
    for name in times:
        values[name] = _aware(values[name])
    return values


# -- users ------------------------------------------------------------------------------
_USER_TIMES = ("locked_until", "created_at", "updated_at", "last_login_at")


def _user_from(row: Any) -> User:
    values = _row(row, *_USER_TIMES)
    values["roles"] = frozenset(Role(r) for r in values["roles"])
    return User.model_validate(values)


def _profile(user: User) -> dict[str, Any]:
    return {
        "email": user.email,
        "password_hash": user.password_hash,
        "active": user.active,
        "roles": user.role_names,
        "updated_at": user.updated_at,
    }


def _login_state(user: User) -> dict[str, Any]:
    return {
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until,
        "last_login_at": user.last_login_at,
    }


class SqlUserRepository(UserRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user: User) -> None:
        values = {"id": user.id, "created_at": user.created_at, "version": 1}
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(t.users).values(**values, **_profile(user), **_login_state(user))
                )
        except IntegrityError:
            raise AlreadyExists(f"user {user.email!r} already exists", email=user.email) from None
        user.version = 1

    async def _one(self, clause: Any) -> User | None:
        row = (await self.session.execute(select(t.users).where(clause))).first()
        return _user_from(row) if row else None

    async def get(self, user_id: str) -> User | None:
        return await self._one(t.users.c.id == user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(t.users.c.email == email.strip().lower())

    async def save(self, user: User) -> None:
        result = await self.session.execute(
            update(t.users)
            .where(t.users.c.id == user.id, t.users.c.version == user.version)
            .values(**_profile(user), version=user.version + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(
                f"user {user.email!r} was changed by someone else; reload and retry",
                email=user.email,
            )
        user.version += 1

    async def save_login_state(self, user: User) -> None:
        await self.session.execute(
            update(t.users).where(t.users.c.id == user.id).values(**_login_state(user))
        )

    async def count_failure(self, user_id: str) -> int:
        c = t.users.c
        await self.session.execute(
            update(t.users).where(c.id == user_id).values(failed_logins=c.failed_logins + 1)
        )
        count = await self.session.scalar(select(c.failed_logins).where(c.id == user_id))
        return int(count or 0)

    async def delete(self, user: User) -> None:
        await self.session.execute(delete(t.users).where(t.users.c.id == user.id))

    async def list(self) -> list[User]:
        rows = (await self.session.execute(select(t.users).order_by(t.users.c.email))).all()
        return [_user_from(r) for r in rows]

    async def count_active_admins(self) -> int:
        # Roles are a JSON list: filtering in Python keeps one query for every database.
        rows = (
            await self.session.execute(select(t.users.c.roles).where(t.users.c.active.is_(True)))
        ).all()
        return sum(1 for (roles,) in rows if Role.ADMIN.value in roles)


# -- sessions and refresh tokens ----------------------------------------------------------
_SESSION_TIMES = ("created_at", "last_used_at", "expires_at", "revoked_at")
_TOKEN_TIMES = ("issued_at", "expires_at", "used_at", "access_expires_at")


def _session_values(s: Session) -> dict[str, Any]:
    return s.model_dump(exclude={"id", "version"})


class SqlSessionRepository(SessionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, session: Session) -> None:
        await self.session.execute(
            insert(t.sessions).values(id=session.id, version=1, **_session_values(session))
        )
        session.version = 1

    async def get(self, session_id: str) -> Session | None:
        row = (
            await self.session.execute(select(t.sessions).where(t.sessions.c.id == session_id))
        ).first()
        return Session.model_validate(_row(row, *_SESSION_TIMES)) if row else None

    async def save(self, session: Session) -> None:
        result = await self.session.execute(
            update(t.sessions)
            .where(t.sessions.c.id == session.id, t.sessions.c.version == session.version)
            .values(**_session_values(session), version=session.version + 1)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrencyConflict(f"session {session.id} was changed by someone else")
        session.version += 1

    async def list_for_user(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        c = t.sessions.c
        query = select(t.sessions).where(c.user_id == user_id)
        if not include_revoked:
            query = query.where(c.revoked_at.is_(None))
        rows = (await self.session.execute(query.order_by(c.created_at.desc(), c.id))).all()
        return [Session.model_validate(_row(r, *_SESSION_TIMES)) for r in rows]

    async def add_token(self, token: RefreshToken) -> None:
        await self.session.execute(insert(t.refresh_tokens).values(**token.model_dump()))

    async def find_token(self, token_hash: str) -> RefreshToken | None:
        row = (
            await self.session.execute(
                select(t.refresh_tokens).where(t.refresh_tokens.c.token_hash == token_hash)
            )
        ).first()
        return RefreshToken.model_validate(_row(row, *_TOKEN_TIMES)) if row else None

    async def claim_token(self, token_hash: str, now: datetime) -> bool:
        c = t.refresh_tokens.c
        result = await self.session.execute(
            update(t.refresh_tokens)
            .where(c.token_hash == token_hash, c.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def access_grants(self, session_ids: Sequence[str], now: datetime) -> list[AccessGrant]:
        if not session_ids:
            return []
        c = t.refresh_tokens.c
        rows = (
            await self.session.execute(
                select(c.access_jti, c.access_expires_at).where(
                    c.session_id.in_(list(session_ids)), c.access_expires_at > now
                )
            )
        ).all()
        return [AccessGrant(jti=jti, expires_at=_aware(exp)) for jti, exp in rows]

    async def purge_tokens(self, now: datetime) -> None:
        c = t.refresh_tokens.c
        await self.session.execute(
            delete(t.refresh_tokens).where(c.expires_at <= now, c.access_expires_at <= now)
        )

    async def delete_for_user(self, user_id: str) -> None:
        await self.session.execute(
            delete(t.refresh_tokens).where(t.refresh_tokens.c.user_id == user_id)
        )
        await self.session.execute(delete(t.sessions).where(t.sessions.c.user_id == user_id))


# -- blacklist --------------------------------------------------------------------------
class SqlBlacklist(Blacklist):
    """Blacklist rows with their expiry; expired rows are ignored and purged on each add."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, jti: str, expires_at: datetime, now: datetime) -> None:
        c = t.blacklist.c
        await self.session.execute(delete(t.blacklist).where(c.expires_at <= now))
        if expires_at <= now:
            return
        existing = await self.session.scalar(select(func.count()).where(c.jti == jti))
        if existing:
            await self.session.execute(
                update(t.blacklist).where(c.jti == jti).values(expires_at=expires_at)
            )
        else:
            await self.session.execute(insert(t.blacklist).values(jti=jti, expires_at=expires_at))

    async def contains(self, jti: str, now: datetime) -> bool:
        c = t.blacklist.c
        found = await self.session.scalar(
            select(func.count()).where(c.jti == jti, c.expires_at > now)
        )
        return bool(found)
