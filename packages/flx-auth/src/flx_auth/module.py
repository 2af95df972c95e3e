"""The auth module as the composition root sees it (entry point group ``flx.modules``).

It wires the SQL repositories into the unit of work; ``build_module`` builds the auth
services from the settings and gives them to the handlers.
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
from flx_core.application import Application, ApplicationModule, Wiring
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


def build_module(wiring: Wiring, *, services: AuthServices | None = None) -> ApplicationModule:
    """Auth as a process needs it: the handlers with the auth services bound, the first
    admin created at start, the Redis blacklist closed at shutdown."""
    auth = services or build_services(wiring.settings)
    built = module.with_dependencies(auth=auth)

    async def first_admin(app: Application) -> None:
        await create_first_admin(app, wiring.settings, auth)

    built.on_start.append(first_admin)
    if isinstance(auth.blacklist, RedisBlacklist):
        built.closers.append(auth.blacklist.aclose)
    return built


__all__ = ["build_module", "build_services", "module"]
