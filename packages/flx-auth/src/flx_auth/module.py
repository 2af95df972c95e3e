"""The auth module as the composition root sees it (entry point group ``flx.modules``).

It wires the SQL repositories into the unit of work and, on start, provides the auth
services from the settings and creates the configured first admin.
"""

from __future__ import annotations

from datetime import timedelta

from flx_auth.application import AuthServices, create_first_admin, module
from flx_auth.domain import Blacklist, LoginPolicy, SessionRepository, UserRepository
from flx_auth.infrastructure import (
    RedisBlacklist,
    SqlBlacklist,
    SqlSessionRepository,
    SqlUserRepository,
)
from flx_auth.security import AccessTokens, PasswordHasher, key_store_for
from flx_core.application import Application
from flx_core.config import FlxSettings

module.sql_repositories.update(
    {
        UserRepository: SqlUserRepository,
        SessionRepository: SqlSessionRepository,
        Blacklist: SqlBlacklist,
    }
)


def build_services(settings: FlxSettings) -> AuthServices:
    """The auth adapters the settings ask for (nothing connects or generates yet)."""
    secret = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None
    keys = key_store_for(secret, settings.home_path)
    return AuthServices(
        passwords=PasswordHasher(settings.bcrypt_rounds, settings.password_min_length),
        keys=keys,
        tokens=AccessTokens(
            keys,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        ),
        policy=LoginPolicy(
            max_failures=settings.login_max_failures, lock_seconds=settings.login_lock_seconds
        ),
        refresh_ttl=timedelta(seconds=settings.refresh_token_ttl_seconds),
        blacklist=RedisBlacklist.from_url(settings.redis_url) if settings.redis_url else None,
    )


@module.startup
async def start(app: Application) -> None:
    if AuthServices not in app.services:
        services = build_services(app.services.get(FlxSettings))
        app.services.provide(AuthServices, services)
        if isinstance(services.blacklist, RedisBlacklist):
            _close_on_shutdown(app, services.blacklist)
    await create_first_admin(app)


def _close_on_shutdown(app: Application, redis: RedisBlacklist) -> None:
    from flx_core.bootstrap import Runtime

    runtime = app.services.find(Runtime)
    if runtime is not None:
        runtime.closers.append(redis.aclose)


__all__ = ["build_services", "module"]
