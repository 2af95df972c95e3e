"""Fixtures of the auth tests: fast bcrypt, a fixed signing key, a clock tests can move, and
the application built by ``bootstrap()`` on a real database.

The database and Redis fixtures (``sqlite_url``, ``postgres_url``, ``database_url``,
``redis_url``) come from the repository's root conftest: they use ``FLX_TEST_DATABASE_URL``
and ``FLX_TEST_REDIS_URL`` (default: the local servers), give each test its own PostgreSQL
database, and under ``CI=true`` fail instead of skipping when a server is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from flx_auth import (
    AuthServices,
    CreateUser,
    Login,
    Role,
    TokenPair,
    UserView,
    VerifyToken,
)
from flx_auth.module import build_module, build_services
from flx_auth.security import SigningKey
from flx_core.application import ProcessKind, Wiring, core_module
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal, ServiceResult
from flx_core.testing import FakeClock

PASSWORD = "correct horse battery staple"
SYSTEM = Principal.system()
ANONYMOUS = Principal.anonymous()


@pytest.fixture(scope="session")
def signing_pem() -> str:
    """One RSA key for the whole session: generating one per test is slow."""
    return SigningKey.generate().pem().decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def make_settings(flx_home: Path, signing_pem: str) -> Any:
    def make(**overrides: Any) -> FlxSettings:
        values: dict[str, Any] = {
            "home": flx_home,
            "bcrypt_rounds": 4,
            "jwt_private_key": signing_pem,
        }
        return FlxSettings(**(values | overrides))

    return make


@dataclass
class Auth:
    """The application under test and the few steps most tests repeat."""

    runtime: Runtime
    clock: FakeClock

    @property
    def app(self) -> Any:
        return self.runtime.app

    async def run(self, message: Any, principal: Principal = SYSTEM) -> ServiceResult[Any]:
        result: ServiceResult[Any] = await self.app.execute(message, principal=principal)
        return result

    async def user(self, email: str, *roles: Role, password: str = PASSWORD) -> UserView:
        result = await self.run(
            CreateUser(
                email=email,
                password=SecretStr(password),
                roles=frozenset(roles or {Role.VIEWER}),
            )
        )
        view: UserView = result.unwrap()
        return view

    async def login(self, email: str, password: str = PASSWORD, **extra: Any) -> ServiceResult[Any]:
        return await self.run(Login(email=email, password=SecretStr(password), **extra), ANONYMOUS)

    async def tokens(self, email: str) -> TokenPair:
        pair: TokenPair = (await self.login(email)).unwrap()
        return pair

    async def verify(self, token: str) -> ServiceResult[Any]:
        return await self.run(VerifyToken(token=SecretStr(token)), ANONYMOUS)


async def _auth(
    settings: FlxSettings, clock: FakeClock, tune: Callable[[AuthServices], None] | None = None
) -> AsyncIterator[Auth]:
    """The application; ``tune`` may adjust the auth services before they are wired."""
    modules = None
    if tune is not None:
        services = build_services(settings)
        tune(services)
        wiring = Wiring(ProcessKind.CLI, settings, None, clock)
        modules = [core_module, build_module(wiring, services=services)]
    runtime = await bootstrap(settings, clock=clock, migrate=False, modules=modules)
    try:
        yield Auth(runtime, clock)
    finally:
        await runtime.aclose()


@pytest.fixture
def start_auth(make_settings: Any, sqlite_url: str, clock: FakeClock) -> Any:
    """``async with start_auth(**settings) as auth``: the application with other settings."""

    @asynccontextmanager
    async def start(
        tune: Callable[[AuthServices], None] | None = None, **overrides: Any
    ) -> AsyncIterator[Auth]:
        settings = make_settings(**({"database_url": sqlite_url} | overrides))
        async for value in _auth(settings, clock, tune):
            yield value

    return start


@pytest.fixture
async def auth(make_settings: Any, sqlite_url: str, clock: FakeClock) -> AsyncIterator[Auth]:
    """The application on a migrated SQLite database."""
    async for value in _auth(make_settings(database_url=sqlite_url), clock):
        yield value


@pytest.fixture
async def auth_db(make_settings: Any, database_url: str, clock: FakeClock) -> AsyncIterator[Auth]:
    """The application on each database backend (the test runs on SQLite and PostgreSQL)."""
    async for value in _auth(make_settings(database_url=database_url), clock):
        yield value


@pytest.fixture
async def auth_keys_on_disk(
    make_settings: Any, sqlite_url: str, clock: FakeClock
) -> AsyncIterator[Auth]:
    """The application with signing keys generated into ``$FLX_HOME/keys``."""
    settings = make_settings(database_url=sqlite_url, jwt_private_key=None)
    async for value in _auth(settings, clock):
        yield value


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    import redis

    prefix = f"flx-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    finally:
        client.close()
