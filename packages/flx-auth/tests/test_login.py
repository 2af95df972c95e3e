"""Logging in: failures are counted, N in a row lock the account for a while, an unknown
email costs what a wrong password costs, and every attempt lands in the audit trail."""

from __future__ import annotations

from typing import Any

import bcrypt
import pytest
from pydantic import SecretStr

from flx_auth import DisableUser, EnableUser, ResetPassword, Role
from flx_core.application import ListAuditEvents
from flx_core.domain.ports import EventFilter

EMAIL = "ada@example.com"


async def audit(auth: Any, event_type: str) -> Any:
    result = await auth.run(ListAuditEvents(filter=EventFilter(event_type=event_type)))
    return result.unwrap()


async def fail_times(auth: Any, n: int) -> None:
    for _ in range(n):
        result = await auth.login(EMAIL, "wrong password!")
        assert result.error_code == "unauthenticated"


async def test_a_good_login_returns_tokens_and_is_audited(auth: Any) -> None:
    await auth.user(EMAIL, Role.ADMIN)
    result = await auth.login("  ADA@example.com ", user_agent="pytest", address="127.0.0.1")
    pair = result.unwrap()
    assert pair.token_type == "Bearer" and pair.expires_in == 900
    assert pair.refresh_token.startswith("flxr_")
    assert "access_token" not in repr(pair) and pair.access_token not in repr(pair)
    (event,) = await audit(auth, "LoginSucceeded")
    assert event.actor == EMAIL
    assert event.payload == {
        "email": EMAIL,
        "session_id": pair.session_id,
        "user_agent": "pytest",
        "address": "127.0.0.1",
    }


async def test_five_failures_lock_the_account_until_the_lock_expires(auth: Any) -> None:
    await auth.user(EMAIL)
    await fail_times(auth, 4)
    assert (await auth.login(EMAIL)).ok, "four failures do not lock"
    await fail_times(auth, 5)
    locked = await auth.login(EMAIL)
    assert locked.details == {"reason": "account_locked"}
    assert "try again after 2026-03-01T12:15:00+00:00" in (locked.message or "")
    auth.clock.advance(15 * 60 - 1)
    assert (await auth.login(EMAIL)).details == {"reason": "account_locked"}
    auth.clock.advance(1)
    assert (await auth.login(EMAIL)).ok, "the lock expired"
    (lock,) = await audit(auth, "AccountLocked")
    assert lock.payload["failed_logins"] == 5
    assert lock.payload["locked_until"].startswith("2026-03-01T12:15:00")
    reasons = [e.payload["reason"] for e in reversed(await audit(auth, "LoginFailed"))]
    assert reasons == ["bad_credentials"] * 9 + ["account_locked"] * 2


async def test_a_locked_account_refuses_even_the_right_password(auth: Any) -> None:
    await auth.user(EMAIL)
    await fail_times(auth, 5)
    assert (await auth.login(EMAIL)).details["reason"] == "account_locked"


async def test_a_lock_counts_afresh_after_it_expires(auth: Any) -> None:
    await auth.user(EMAIL)
    await fail_times(auth, 5)
    auth.clock.advance(15 * 60)
    await fail_times(auth, 4)
    assert (await auth.login(EMAIL)).ok


async def test_failures_and_lock_use_the_settings(start_auth: Any) -> None:
    async with start_auth(login_max_failures=2, login_lock_seconds=60) as auth:
        await auth.user(EMAIL)
        await fail_times(auth, 2)
        assert (await auth.login(EMAIL)).details["reason"] == "account_locked"
        auth.clock.advance(60)
        assert (await auth.login(EMAIL)).ok


async def test_enable_or_password_reset_lifts_a_lock(auth: Any) -> None:
    await auth.user(EMAIL)
    await fail_times(auth, 5)
    assert (await auth.run(EnableUser(email=EMAIL))).ok
    assert (await auth.login(EMAIL)).ok
    await fail_times(auth, 5)
    new = "a brand new password"
    assert (await auth.run(ResetPassword(email=EMAIL, password=SecretStr(new)))).ok
    assert (await auth.login(EMAIL, new)).ok


async def test_unknown_email_and_wrong_password_look_the_same(
    auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await auth.user(EMAIL)
    checks: list[bytes] = []
    real = bcrypt.checkpw

    def spy(password: bytes, hashed: bytes) -> bool:
        checks.append(hashed[:7])
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    unknown = await auth.login("nobody@example.com", "wrong password!")
    wrong = await auth.login(EMAIL, "wrong password!")
    # One bcrypt check of the same cost each: the same time, the same answer.
    assert checks == [b"$2b$04$", b"$2b$04$"]
    assert (unknown.error_code, unknown.message, unknown.details) == (
        wrong.error_code,
        wrong.message,
        wrong.details,
    )
    assert unknown.message == "invalid email or password"
    failed = await audit(auth, "LoginFailed")
    assert [e.payload["reason"] for e in failed] == ["bad_credentials", "unknown_email"]
    assert failed[1].payload["email"] == "nobody@example.com"


async def test_a_disabled_user_cannot_log_in(auth: Any) -> None:
    await auth.user(EMAIL)
    await auth.run(DisableUser(email=EMAIL))
    refused = await auth.login(EMAIL)
    assert refused.details == {"reason": "account_disabled"}
    wrong = await auth.login(EMAIL, "wrong password!")
    assert wrong.message == "invalid email or password"


async def test_the_password_never_appears_in_results_or_the_audit_trail(auth: Any) -> None:
    await auth.user(EMAIL)
    await auth.login(EMAIL, "wrong password!")
    await auth.login(EMAIL)
    trail = (await auth.run(ListAuditEvents())).unwrap()
    text = " ".join(str(e.model_dump()) for e in trail)
    assert "wrong password!" not in text and "correct horse" not in text
    assert "$2b$" not in text
