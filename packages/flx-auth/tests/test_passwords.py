"""Passwords: bcrypt with a real cost, a minimum length, and never shown."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from flx_auth import CreateUser, GetUser, ListUsers, Role
from flx_auth.security import PasswordHasher
from flx_core.config import FlxSettings
from flx_core.domain import ValidationFailed


async def test_the_default_cost_is_at_least_12() -> None:
    assert FlxSettings.model_fields["bcrypt_rounds"].default >= 12
    hasher = PasswordHasher()
    hashed = await hasher.hash("correct horse battery staple")
    assert hashed.startswith("$2b$12$")
    assert await hasher.verify("correct horse battery staple", hashed)
    assert not await hasher.verify("correct horse battery stapler", hashed)


async def test_the_policy_refuses_short_and_over_long_passwords() -> None:
    hasher = PasswordHasher(rounds=4, min_length=12)
    with pytest.raises(ValidationFailed, match="at least 12 characters") as short:
        await hasher.hash("short-pw")
    assert "short-pw" not in str(short.value)
    with pytest.raises(ValidationFailed, match="at most 72 bytes"):
        await hasher.hash("x" * 73)
    hashed = await hasher.hash("y" * 72)
    assert not await hasher.verify("y" * 72 + "z", hashed), "no silent truncation"


async def test_no_output_of_the_use_cases_holds_the_hash_or_the_password(auth: Any) -> None:
    password = "a very secret password"
    created = await auth.run(
        CreateUser(email="ada@example.com", password=SecretStr(password), roles={Role.ADMIN})
    )
    shown = [
        created,
        await auth.run(GetUser(email="ada@example.com")),
        await auth.run(ListUsers()),
    ]
    for result in shown:
        text = result.model_dump_json()
        assert "$2b$" not in text and "password" not in text and password not in text
    cmd = CreateUser(email="bob@example.com", password=SecretStr(password))
    assert password not in repr(cmd) and password not in str(cmd)


async def test_a_short_password_is_refused_with_the_settings_minimum(auth: Any) -> None:
    result = await auth.run(CreateUser(email="ada@example.com", password=SecretStr("tooshort")))
    assert result.error_code == "invalid"
    assert result.message == "password too short: use at least 12 characters"
