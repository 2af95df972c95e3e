"""User administration, the first admin from the settings, and the audit of both."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from flx_auth import (
    CreateUser,
    DeleteUser,
    DisableUser,
    EnableUser,
    GetUser,
    ListUsers,
    ResetPassword,
    Role,
    SetUserRole,
)
from flx_core.application import ListAuditEvents
from flx_core.config import SettingsError
from flx_core.domain.ports import EventFilter

EMAIL = "ada@example.com"


async def audit(auth: Any, event_type: str) -> Any:
    result = await auth.run(ListAuditEvents(filter=EventFilter(event_type=event_type)))
    return result.unwrap()


async def test_create_get_and_list_users(auth_db: Any) -> None:
    auth = auth_db
    created = await auth.user("Ada@Example.com", Role.OPERATOR, Role.VIEWER)
    assert created.email == EMAIL and created.roles == ["operator", "viewer"]
    await auth.user("bob@example.com")
    assert (await auth.run(GetUser(email=EMAIL))).unwrap().id == created.id
    listed = (await auth.run(ListUsers())).unwrap()
    assert [u.email for u in listed] == [EMAIL, "bob@example.com"]
    again = await auth.run(CreateUser(email=EMAIL, password=SecretStr("x" * 20)))
    assert again.error_code == "already_exists"
    assert again.message == f"user {EMAIL!r} already exists"
    (event,) = [e for e in await audit(auth, "UserCreated") if e.aggregate_id == created.id]
    assert event.actor == "system" and event.payload == {
        "email": EMAIL,
        "roles": ["operator", "viewer"],
    }


def test_messages_validate_emails_and_roles() -> None:
    with pytest.raises(ValidationError, match="invalid email address"):
        GetUser(email="not-an-email")
    with pytest.raises(ValidationError):
        SetUserRole(email=EMAIL, roles=frozenset())
    with pytest.raises(ValidationError):
        SetUserRole(email=EMAIL, roles={"root"})


async def test_set_role_disable_enable_reset_and_delete_are_audited(auth_db: Any) -> None:
    auth = auth_db
    await auth.user("root@example.com", Role.ADMIN)
    user = await auth.user(EMAIL)
    changed = (await auth.run(SetUserRole(email=EMAIL, roles={Role.OPERATOR}))).unwrap()
    assert changed.roles == ["operator"]
    assert not (await auth.run(DisableUser(email=EMAIL))).unwrap().active
    assert (await auth.run(EnableUser(email=EMAIL))).unwrap().active
    new = SecretStr("a brand new password")
    assert (await auth.run(ResetPassword(email=EMAIL, password=new))).ok
    assert (await auth.login(EMAIL, "a brand new password")).ok
    assert (await auth.run(DeleteUser(email=EMAIL))).ok
    assert (await auth.run(GetUser(email=EMAIL))).error_code == "not_found"
    trail = (await auth.run(ListAuditEvents(filter=EventFilter(aggregate_id=user.id)))).unwrap()
    types = [e.event_type for e in reversed(trail)]
    assert types[:6] == [
        "UserCreated",
        "UserRoleChanged",
        "UserUpdated",
        "UserUpdated",
        "PasswordReset",
        "LoginSucceeded",
    ]
    # Deleting ends the user's sessions in the same transaction.
    assert sorted(types[6:]) == ["SessionRevoked", "UserDeleted"]


async def test_the_last_active_admin_cannot_be_removed(auth: Any) -> None:
    await auth.user(EMAIL, Role.ADMIN)
    for message in (
        DisableUser(email=EMAIL),
        DeleteUser(email=EMAIL),
        SetUserRole(email=EMAIL, roles={Role.VIEWER}),
    ):
        result = await auth.run(message)
        assert result.error_code == "invalid"
        assert result.message == f"cannot {_verb(message)} {EMAIL}: it is the last active admin"
    await auth.user("root@example.com", Role.ADMIN)
    assert (await auth.run(DisableUser(email=EMAIL))).ok


def _verb(message: Any) -> str:
    return {
        "DisableUser": "disable",
        "DeleteUser": "delete",
        "SetUserRole": "remove the admin role from",
    }[type(message).__name__]


async def test_the_first_admin_comes_from_the_settings_once(start_auth: Any) -> None:
    settings = {"admin_email": "Root@Example.com", "admin_password": "the admin password"}
    async with start_auth(**settings) as auth:
        admin = (await auth.run(GetUser(email="root@example.com"))).unwrap()
        assert admin.roles == ["admin"]
        assert (await auth.login("root@example.com", "the admin password")).ok
    async with start_auth(**settings) as auth:
        assert len((await auth.run(ListUsers())).unwrap()) == 1


async def test_no_admin_is_created_without_both_settings(start_auth: Any) -> None:
    async with start_auth() as auth:
        assert (await auth.run(ListUsers())).unwrap() == []
    with pytest.raises(SettingsError, match="set both"):
        async with start_auth(admin_email="root@example.com"):
            pass


async def test_a_weak_admin_password_stops_the_start_with_a_clear_line(start_auth: Any) -> None:
    with pytest.raises(SettingsError) as caught:
        async with start_auth(admin_email="root@example.com", admin_password="short"):
            pass
    assert str(caught.value) == (
        "invalid setting FLX_ADMIN_PASSWORD: password too short: use at least 12 characters"
    )
