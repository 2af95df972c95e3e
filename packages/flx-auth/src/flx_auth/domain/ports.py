"""Ports of the auth context; the SQL and Redis adapters live in ``flx_auth.infrastructure``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from flx_auth.domain.session import AccessGrant, RefreshToken, Session
from flx_auth.domain.user import User


class UserRepository(ABC):
    @abstractmethod
    async def add(self, user: User) -> None:
        """Insert; raises AlreadyExists when the email is taken."""

    @abstractmethod
    async def get(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def get_by_email(self, email: str) -> User | None: ...

    @abstractmethod
    async def save(self, user: User) -> None:
        """Persist profile changes (email, password, active, roles) with optimistic locking."""

    @abstractmethod
    async def save_login_state(self, user: User) -> None:
        """Persist failed-login count, lock and last login, without a version check."""

    @abstractmethod
    async def count_failure(self, user_id: str) -> int:
        """Add one failed login atomically; returns the new consecutive count."""

    @abstractmethod
    async def delete(self, user: User) -> None: ...

    @abstractmethod
    async def list(self) -> list[User]: ...

    @abstractmethod
    async def count_active_admins(self) -> int: ...


class SessionRepository(ABC):
    @abstractmethod
    async def add(self, session: Session) -> None: ...

    @abstractmethod
    async def get(self, session_id: str) -> Session | None: ...

    @abstractmethod
    async def save(self, session: Session) -> None: ...

    @abstractmethod
    async def list_for_user(self, user_id: str, *, include_revoked: bool = False) -> list[Session]:
        """Newest first."""

    @abstractmethod
    async def add_token(self, token: RefreshToken) -> None: ...

    @abstractmethod
    async def find_token(self, token_hash: str) -> RefreshToken | None: ...

    @abstractmethod
    async def claim_token(self, token_hash: str, now: datetime) -> bool:
        """Mark an unused token used; False if it was used already (a replay)."""

    @abstractmethod
    async def access_grants(self, session_ids: Sequence[str], now: datetime) -> list[AccessGrant]:
        """Access tokens issued by these sessions that have not expired yet."""

    @abstractmethod
    async def purge_tokens(self, now: datetime) -> None:
        """Forget refresh tokens that expired and whose access token expired too."""

    @abstractmethod
    async def delete_for_user(self, user_id: str) -> None: ...


class Blacklist(ABC):
    """Revoked access tokens by ``jti``, remembered until the token would expire anyway."""

    @abstractmethod
    async def add(self, jti: str, expires_at: datetime, now: datetime) -> None: ...

    @abstractmethod
    async def contains(self, jti: str, now: datetime) -> bool: ...
