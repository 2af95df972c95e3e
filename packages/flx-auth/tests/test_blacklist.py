"""The blacklist of revoked access tokens: Redis (TTL = remaining lifetime) and database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from pydantic import SecretStr
from sqlalchemy import func, select

from flx_auth import AuthServices, Logout, Role
from flx_auth.infrastructure import RedisBlacklist, SqlBlacklist
from flx_auth.infrastructure.tables import blacklist as blacklist_table
from flx_core.infrastructure.persistence import make_engine, make_session_factory

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def session_factory(database_url: str) -> AsyncIterator[Any]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    await engine.dispose()


async def test_db_blacklist_remembers_a_jti_until_it_expires(session_factory: Any) -> None:
    async with session_factory() as session:
        entries = SqlBlacklist(session)
        await entries.add("jti-1", NOW + timedelta(minutes=15), NOW)
        await entries.add("jti-1", NOW + timedelta(minutes=15), NOW)  # twice is fine
        await session.commit()
    async with session_factory() as session:
        entries = SqlBlacklist(session)
        assert await entries.contains("jti-1", NOW + timedelta(minutes=14))
        assert not await entries.contains("jti-1", NOW + timedelta(minutes=15))
        assert not await entries.contains("jti-2", NOW)


async def test_db_blacklist_purges_expired_entries_and_skips_dead_tokens(
    session_factory: Any,
) -> None:
    async with session_factory() as session:
        entries = SqlBlacklist(session)
        await entries.add("old", NOW + timedelta(seconds=10), NOW)
        await entries.add("dead-already", NOW - timedelta(seconds=1), NOW)
        await entries.add("new", NOW + timedelta(hours=1), NOW + timedelta(seconds=20))
        await session.commit()
        rows = await session.scalars(select(blacklist_table.c.jti))
        assert sorted(rows) == ["new"]
        count = await session.scalar(select(func.count()).select_from(blacklist_table))
        assert count == 1


@pytest.mark.redis
async def test_redis_blacklist_ttl_is_the_remaining_lifetime(
    redis_url: str, redis_prefix: str
) -> None:
    entries = RedisBlacklist.from_url(redis_url, prefix=redis_prefix)
    try:
        await entries.add("jti-1", NOW + timedelta(seconds=600), NOW)
        await entries.add("dead", NOW - timedelta(seconds=1), NOW)
        assert await entries.contains("jti-1", NOW)
        assert not await entries.contains("dead", NOW)
        assert not await entries.contains("jti-2", NOW)
        ttl = await entries.client.ttl(f"{redis_prefix}jti-1")
        assert abs(ttl - 600) <= 2
    finally:
        await entries.aclose()


@pytest.mark.redis
async def test_with_redis_configured_logout_puts_the_jti_in_redis(
    start_auth: Any, redis_url: str, redis_prefix: str
) -> None:
    def tune(services: AuthServices) -> None:
        assert isinstance(services.blacklist, RedisBlacklist)
        services.blacklist.prefix = redis_prefix

    async with start_auth(tune, redis_url=redis_url) as auth:
        await auth.user("ada@example.com", Role.VIEWER)
        pair = await auth.tokens("ada@example.com")
        claims = (await auth.verify(pair.access_token)).unwrap().claims
        auth.clock.advance(100)
        logout = Logout(access_token=SecretStr(pair.access_token))
        assert (await auth.run(logout)).ok
        assert (await auth.verify(pair.access_token)).details["reason"] == "revoked"
    client = redis.Redis.from_url(redis_url)
    try:
        ttl = client.ttl(f"{redis_prefix}{claims.jti}")
    finally:
        client.close()
    assert abs(ttl - 800) <= 2, "remaining lifetime: 900 s minus the 100 s that passed"
