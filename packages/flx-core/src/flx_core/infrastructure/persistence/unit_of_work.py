"""The SQL unit of work: one AsyncSession, the repositories on it, commit or roll back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flx_core.domain.ports import UnitOfWork
from flx_core.infrastructure.persistence.repositories import (
    SqlEventStore,
    SqlExecutionRepository,
    SqlPipelineRepository,
    SqlPluginRepository,
)
from flx_core.infrastructure.secret_cipher import SecretCipher


class SqlUnitOfWork(UnitOfWork):
    """``cipher`` encrypts the secret settings of plugins and pipelines in their tables."""

    session: AsyncSession

    def __init__(
        self,
        session_factory: async_sessionmaker[Any],
        extra: Mapping[type[Any], Callable[[AsyncSession], Any]] | None = None,
        *,
        cipher: SecretCipher,
    ) -> None:
        self._session_factory = session_factory
        self._extra = dict(extra or {})
        self.cipher = cipher

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.session = self._session_factory()
        self.pipelines = SqlPipelineRepository(self.session, self.cipher)
        self.plugins = SqlPluginRepository(self.session, self.cipher)
        self.executions = SqlExecutionRepository(self.session)
        self.events = SqlEventStore(self.session)
        self.repositories = {port: make(self.session) for port, make in self._extra.items()}
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self.session.close()

    async def _commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()
