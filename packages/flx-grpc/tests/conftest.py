"""Fixtures of the gRPC tests: one real server per test module (``grpc_server``) on a free
loopback port over a SQLite home, users of each role, and their tokens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from pydantic import SecretStr

from flx_auth import CreateUser, Role
from flx_auth.security import SigningKey
from flx_core.application import ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal
from flx_grpc.client import FlxGrpcClient
from flx_grpc.testing import GrpcServer

PASSWORD = "correct horse battery staple"
EMAILS = {
    Role.ADMIN: "admin@example.com",
    Role.OPERATOR: "operator@example.com",
    Role.VIEWER: "viewer@example.com",
}


def grpc_settings(home: Path, **overrides: Any) -> FlxSettings:
    values: dict[str, Any] = {
        "home": home,
        "database_url": f"sqlite:///{home / 'flx.db'}",
        "bcrypt_rounds": 4,
        "jwt_private_key": SigningKey.generate().pem().decode(),
    }
    return FlxSettings(**(values | overrides))


def create_users(settings: FlxSettings) -> None:
    async def go() -> None:
        runtime = await bootstrap(settings, kind=ProcessKind.CLI, migrate=True)
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


@dataclass
class Running:
    """A running server, and a logged-in client per role (``anonymous``: no token)."""

    server: GrpcServer
    settings: FlxSettings
    clients: dict[Role | None, FlxGrpcClient] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return self.server.target

    @property
    def admin(self) -> FlxGrpcClient:
        return self.clients[Role.ADMIN]

    @property
    def operator(self) -> FlxGrpcClient:
        return self.clients[Role.OPERATOR]

    @property
    def viewer(self) -> FlxGrpcClient:
        return self.clients[Role.VIEWER]

    @property
    def anonymous(self) -> FlxGrpcClient:
        return self.clients[None]


def start(
    home: Path, *, ready: Any = None, tls: bool = False, **overrides: Any
) -> Iterator[Running]:
    """A server over a new home, and a logged-in client per role (none with ``tls``: the
    test makes its own)."""
    settings = grpc_settings(home, **overrides)
    create_users(settings)

    async def build() -> Any:
        return await bootstrap(settings, kind=ProcessKind.SERVER, migrate=False)

    with GrpcServer(settings, build, ready=ready) as server:
        running = Running(server, settings)
        if tls:
            yield running
            return
        running.clients[None] = FlxGrpcClient(server.target)
        for role, email in EMAILS.items():
            client = FlxGrpcClient(server.target)
            client.login(email, PASSWORD)
            running.clients[role] = client
        try:
            yield running
        finally:
            for client in running.clients.values():
                client.close()


@pytest.fixture(scope="module")
def grpc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One server for the whole module (tests name their resources apart)."""
    yield from start(tmp_path_factory.mktemp("grpc-home"))


def code_of(call: Any) -> grpc.StatusCode:
    """The status code a call ends with (``call`` raises it)."""
    try:
        result = call()
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            for _ in result:
                pass
    except grpc.RpcError as error:
        code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
        return code
    return grpc.StatusCode.OK
