"""The Redis blacklist: one key per revoked ``jti``, expiring with the token itself."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from flx_auth.domain import Blacklist

if TYPE_CHECKING:
    from redis.asyncio import Redis

DEFAULT_PREFIX = "flx:auth:blacklist:"


class RedisBlacklist(Blacklist):
    def __init__(self, client: Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisBlacklist:
        # Imported here: only processes configured with Redis pay for the client library.
        from redis.asyncio import Redis

        return cls(Redis.from_url(url), prefix)

    def key(self, jti: str) -> str:
        return f"{self.prefix}{jti}"

    async def add(self, jti: str, expires_at: datetime, now: datetime) -> None:
        ttl = math.ceil((expires_at - now).total_seconds())
        if ttl > 0:
            await self.client.set(self.key(jti), "1", ex=ttl)

    async def contains(self, jti: str, now: datetime) -> bool:
        return bool(await self.client.exists(self.key(jti)))

    async def aclose(self) -> None:
        await self.client.aclose()
