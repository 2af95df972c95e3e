"""Fixtures of the API tests: a real uvicorn serving the application built by
``bootstrap`` on SQLite and PostgreSQL, users of each role, and clients holding their tokens.

``api`` runs once per database backend; ``sqlite_api`` on SQLite only, for tests whose
subject does not depend on the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flx_api.testing import ApiServer
from flx_auth import CreateUser, Role
from flx_auth.security import SigningKey
from flx_core.application import ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal

PASSWORD = "correct horse battery staple"
EMAILS = {
    Role.ADMIN: "admin@example.com",
    Role.OPERATOR: "operator@example.com",
    Role.VIEWER: "viewer@example.com",
}


@pytest.fixture(scope="session")
def signing_pem() -> str:
    return SigningKey.generate().pem().decode()


@dataclass
class Api:
    """A running server, and clients for each role."""

    server: ApiServer
    settings: FlxSettings
    tokens: dict[Role, str] = field(default_factory=dict)
    refresh: dict[Role, str] = field(default_factory=dict)
    _clients: list[httpx.Client] = field(default_factory=list)
    _by_role: dict[Role | None, httpx.Client] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: Role | None = None, **headers: str) -> httpx.Client:
        """A client with ``role``'s bearer token (no token for None)."""
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def _cached(self, role: Role | None) -> httpx.Client:
        """One client per role for the test (a new connection per request costs)."""
        if role not in self._by_role:
            self._by_role[role] = self.client(role)
        return self._by_role[role]

    @property
    def admin(self) -> httpx.Client:
        return self._cached(Role.ADMIN)

    @property
    def operator(self) -> httpx.Client:
        return self._cached(Role.OPERATOR)

    @property
    def viewer(self) -> httpx.Client:
        return self._cached(Role.VIEWER)

    @property
    def anonymous(self) -> httpx.Client:
        return self._cached(None)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def api_settings(home: Path, database_url: str, signing_pem: str, **overrides: Any) -> FlxSettings:
    values: dict[str, Any] = {
        "home": home,
        "database_url": database_url,
        "bcrypt_rounds": 4,
        "jwt_private_key": signing_pem,
        # Tests send many requests from one address; the limit has tests of its own.
        "api_rate_limit": "100000/minute",
        "api_login_rate_limit": "100000/minute",
    }
    return FlxSettings(**(values | overrides))


def create_users(settings: FlxSettings) -> None:
    async def go() -> None:
        runtime = await bootstrap(settings, kind=ProcessKind.CLI, migrate=False)
        try:
            for role, email in EMAILS.items():
                result = await runtime.app.execute(
                    CreateUser(email=email, password=SecretStr(PASSWORD), roles=frozenset({role})),
                    principal=Principal.system(),
                )
                result.unwrap()
        finally:
            await runtime.aclose()

    asyncio.run(go())


def start_api(settings: FlxSettings, **options: Any) -> Iterator[Api]:
    create_users(settings)

    async def build() -> Any:
        return await bootstrap(settings, kind=ProcessKind.SERVER, migrate=False)

    with ApiServer(settings, build, **options) as server:
        api = Api(server, settings)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for role, email in EMAILS.items():
                response = client.post(
                    "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
                )
                assert response.status_code == 200, response.text
                api.tokens[role] = response.json()["access_token"]
                api.refresh[role] = response.json()["refresh_token"]
        try:
            yield api
        finally:
            api.close()


@pytest.fixture
def make_api(flx_home: Path, signing_pem: str) -> Any:
    """``with make_api(database_url, **settings) as api``: a server with other settings."""
    from contextlib import contextmanager

    @contextmanager
    def make(database_url: str, **overrides: Any) -> Iterator[Api]:
        settings = api_settings(flx_home, database_url, signing_pem, **overrides)
        yield from start_api(settings)

    return make


@pytest.fixture
def api(make_api: Any, database_url: str) -> Iterator[Api]:
    with make_api(database_url) as running:
        yield running


@pytest.fixture
def sqlite_api(make_api: Any, sqlite_url: str) -> Iterator[Api]:
    with make_api(sqlite_url) as running:
        yield running
