"""How often the login form may be tried: FLX_API_LOGIN_RATE_LIMIT per address and per
email, counted in Redis when FLX_REDIS_URL is set (shared by every server process), in
memory otherwise.

The account lockout of the auth context still applies; this limit slows down guessing
across many accounts from one address, which a per-account lockout does not.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from flx_core.config import FlxSettings


@dataclass(frozen=True)
class Refusal:
    retry_after: int

    @property
    def message(self) -> str:
        return f"too many login attempts; retry in {self.retry_after} s"


class LoginLimits:
    def __init__(self, settings: FlxSettings) -> None:
        url = settings.redis_url
        self.storage: Storage = (
            RedisStorage(
                "async+" + url if url.startswith(("redis://", "rediss://", "unix://")) else url,
                implementation="redispy",
                key_prefix="flx-web-limits",
            )
            if url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.rate = parse(settings.api_login_rate_limit)

    async def check(self, address: str, email: str) -> Refusal | None:
        """Count one attempt; the refusal when the address or the email is over its limit."""
        for key in (f"addr:{address}", f"email:{email.lower()}"):
            if not await self.limiter.hit(self.rate, "web-login", key):
                stats = await self.limiter.get_window_stats(self.rate, "web-login", key)
                return Refusal(max(1, math.ceil(stats.reset_time - time.time())))
        return None


class _Holder:
    limits: LoginLimits | None = None


_holder = _Holder()


def install(limits: LoginLimits) -> None:
    _holder.limits = limits


def current() -> LoginLimits | None:
    return _holder.limits
