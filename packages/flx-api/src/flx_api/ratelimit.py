"""Rate limits with the ``limits`` library: in Redis when ``REDIS_URL`` is set, so every
server process and worker shares the counts, in memory otherwise.

A client is its credential (a hash of the bearer token) or, without one, its address. Every
answer under ``/api/`` carries ``RateLimit-Limit``, ``RateLimit-Remaining`` and
``RateLimit-Reset``; the refused one is a 429 problem with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flx_api.problems import ApiProblem, problem_response


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


class RateLimits:
    """The limiter of one server process (its storage is shared when it is Redis)."""

    def __init__(self, redis_url: str | None, *, prefix: str = "flx") -> None:
        self.storage: Storage = (
            RedisStorage(
                _limits_uri(redis_url), implementation="redispy", key_prefix=f"{prefix}-limits"
            )
            if redis_url
            else MemoryStorage()
        )
        self.limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, rate: RateLimitItem, *keys: str) -> Verdict:
        allowed = await self.limiter.hit(rate, *keys)
        stats = await self.limiter.get_window_stats(rate, *keys)
        return Verdict(
            allowed=allowed,
            limit=rate.amount,
            remaining=max(0, stats.remaining),
            reset_after=max(0, math.ceil(stats.reset_time - time.time())),
        )


def _limits_uri(redis_url: str) -> str:
    # limits names its asyncio Redis storage "async+redis://"
    for scheme in ("redis://", "rediss://", "unix://"):
        if redis_url.startswith(scheme):
            return "async+" + redis_url
    return redis_url


def client_key(scope: Scope) -> str:
    headers = Headers(scope=scope)
    auth = headers.get("authorization")
    if auth:
        return "token:" + hashlib.sha256(auth.encode()).hexdigest()[:24]
    client = scope.get("client")
    return "addr:" + (client[0] if client else "unknown")


class RateLimitMiddleware:
    """Counts each request under ``/api/`` against the client's limit."""

    def __init__(self, app: ASGIApp, limits: RateLimits, rate: str) -> None:
        self.app = app
        self.limits = limits
        self.rate = parse(rate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        verdict = await self.limits.hit(self.rate, "api", client_key(scope))
        if not verdict.allowed:
            problem = ApiProblem(
                429,
                "rate_limited",
                f"rate limit of {self.rate.amount} requests per "
                f"{self.rate.GRANULARITY.name} exceeded; retry in {verdict.reset_after} s",
            )
            response = problem_response(None, problem, headers=verdict.headers())
            await response(scope, receive, send)
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in verdict.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A stricter limit a route applied (login) speaks for itself.
                present = {k.lower() for k, _ in message.get("headers", [])}
                added = [(k, v) for k, v in extra if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
