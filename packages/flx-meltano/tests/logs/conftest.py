"""Log stores on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flx_core.infrastructure.persistence import make_engine, make_session_factory
from flx_meltano.logs import DatabaseLogStore


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(database_url)
    try:
        yield make_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def db_store(sessions: async_sessionmaker[AsyncSession]) -> DatabaseLogStore:
    return DatabaseLogStore(sessions)
