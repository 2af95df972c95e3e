"""The permission matrix, enforced by the bus of an application built with bootstrap().

For every role and every command and query registered by any installed module, the bus lets
the message through exactly when the role holds the permission the message declares.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from flx_auth import (
    ROLE_PERMISSIONS,
    Authenticate,
    CreateUser,
    CurrentUser,
    DeleteUser,
    DisableUser,
    EnableUser,
    GetUser,
    ListOwnSessions,
    ListSessions,
    ListUsers,
    Login,
    Logout,
    Refresh,
    ResetPassword,
    RevokeAllSessions,
    RevokeOwnSession,
    RevokeSession,
    Role,
    RotateKeys,
    SetUserRole,
    UpdateUser,
    User,
    VerifyToken,
    principal_for,
)
from flx_core.application import (
    AddPlugin,
    ApplicationModule,
    Command,
    CreatePipeline,
    DeletePipeline,
    GetExecution,
    GetPipeline,
    GetPlugin,
    HandlerContext,
    ListAuditEvents,
    ListExecutions,
    ListPipelines,
    ListPlugins,
    Message,
    ProcessKind,
    RemovePlugin,
    UpdatePipeline,
    UpdatePlugin,
    Wiring,
)
from flx_core.bootstrap import Runtime, bootstrap, build_modules
from flx_core.domain import Principal, ServiceResult
from flx_core.domain.ports import SystemClock

ALL = frozenset(Role)
WRITERS = frozenset({Role.ADMIN, Role.OPERATOR})
ADMIN = frozenset({Role.ADMIN})

#: Who may send each auth and core message: the matrix as the design states it.
EXPECTED: dict[type[Message], frozenset[Role]] = {
    CreateUser: ADMIN,
    SetUserRole: ADMIN,
    DisableUser: ADMIN,
    EnableUser: ADMIN,
    DeleteUser: ADMIN,
    ResetPassword: ADMIN,
    GetUser: WRITERS,
    ListUsers: WRITERS,
    ListSessions: WRITERS,
    RevokeSession: ADMIN,
    RevokeAllSessions: ADMIN,
    RotateKeys: ADMIN,
    UpdateUser: ADMIN,
    CurrentUser: ALL,
    ListOwnSessions: ALL,
    RevokeOwnSession: ALL,
    Login: ALL,
    Refresh: ALL,
    Logout: ALL,
    VerifyToken: ALL,
    Authenticate: ALL,
    CreatePipeline: WRITERS,
    UpdatePipeline: WRITERS,
    DeletePipeline: WRITERS,
    GetPipeline: ALL,
    ListPipelines: ALL,
    AddPlugin: WRITERS,
    UpdatePlugin: WRITERS,
    RemovePlugin: WRITERS,
    GetPlugin: ALL,
    ListPlugins: ALL,
    GetExecution: ALL,
    ListExecutions: ALL,
    ListAuditEvents: WRITERS,
}


def principal(role: Role) -> Principal:
    return principal_for(User(email=f"{role.value}@example.com", password_hash="x", roles={role}))


async def _reached(msg: Any, ctx: HandlerContext) -> ServiceResult[str]:
    return ServiceResult.success("handler reached")


def stubbed(modules: list[ApplicationModule]) -> list[ApplicationModule]:
    """The installed modules with every handler replaced by one that only says it ran."""
    return [
        ApplicationModule(
            m.name,
            m.depends_on,
            commands=dict.fromkeys(m.commands, _reached),
            queries=dict.fromkeys(m.queries, _reached),
        )
        for m in modules
    ]


@pytest.fixture
async def stub_runtime(make_settings: Any, sqlite_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(database_url=sqlite_url)
    wiring = Wiring(ProcessKind.SERVER, settings, None, SystemClock())
    runtime = await bootstrap(settings, modules=stubbed(build_modules(ProcessKind.SERVER, wiring)))
    yield runtime
    await runtime.aclose()


def registered(runtime: Runtime) -> list[type[Message]]:
    messages: list[type[Message]] = []
    for module in runtime.app.modules:
        messages.extend(module.commands)
        messages.extend(module.queries)
    return messages


@pytest.mark.parametrize("role", list(Role))
async def test_bus_allows_a_message_iff_the_role_holds_its_permission(
    role: Role, stub_runtime: Runtime
) -> None:
    messages = registered(stub_runtime)
    assert set(EXPECTED) <= set(messages), "every auth and core message is registered"
    wrong: list[tuple[str, object, bool]] = []
    for message_type in messages:
        result = await stub_runtime.app.execute(
            message_type.model_construct(), principal=principal(role)
        )
        needed = message_type.permission
        expected = needed is None or needed in ROLE_PERMISSIONS[role]
        allowed = result.ok and result.value == "handler reached"
        if not allowed:
            assert result.error_code == "permission_denied", result
        if allowed != expected:
            wrong.append((message_type.__name__, needed, allowed))
        if message_type in EXPECTED and allowed != (role in EXPECTED[message_type]):
            wrong.append((message_type.__name__, "matrix", allowed))
    assert wrong == []


async def test_a_viewer_is_refused_every_write_command_with_a_permission_error(
    stub_runtime: Runtime,
) -> None:
    writes = [
        m for m in registered(stub_runtime) if issubclass(m, Command) and m.permission is not None
    ]
    assert len(writes) >= 15
    for command in writes:
        result = await stub_runtime.app.execute(
            command.model_construct(), principal=principal(Role.VIEWER)
        )
        assert result.error_code == "permission_denied", command.__name__
        assert result.message is not None and "viewer@example.com lacks" in result.message


def real_messages() -> list[Message]:
    email = "target@example.com"
    password = SecretStr("another long password")
    return [
        CreateUser(email="new@example.com", password=password, roles={Role.VIEWER}),
        SetUserRole(email=email, roles={Role.OPERATOR}),
        DisableUser(email=email),
        EnableUser(email=email),
        ResetPassword(email=email, password=password),
        RevokeSession(session_id="0" * 32),
        RevokeAllSessions(email=email),
        RotateKeys(),
        DeleteUser(email=email),
        GetUser(email=email),
        ListUsers(),
        ListSessions(email=email),
    ]


@pytest.mark.parametrize("role", list(Role))
async def test_real_auth_handlers_are_guarded_by_the_bus(role: Role, auth: Any) -> None:
    await auth.user("target@example.com", Role.VIEWER)
    for message in real_messages():
        result = await auth.run(message, principal(role))
        denied = result.error_code == "permission_denied"
        assert denied == (role not in EXPECTED[type(message)]), (type(message).__name__, result)
