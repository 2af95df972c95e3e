"""Sessions: refresh tokens rotate on every use, a replayed one ends the whole session, and
logout or revocation refuses the session's tokens. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from flx_auth import (
    ListSessions,
    Logout,
    Refresh,
    RevokeAllSessions,
    RevokeSession,
    Role,
)
from flx_core.application import ListAuditEvents
from flx_core.domain import Principal
from flx_core.domain.ports import EventFilter

ANONYMOUS = Principal.anonymous()

EMAIL = "ada@example.com"


async def refresh(auth: Any, token: str) -> Any:
    return await auth.run(Refresh(refresh_token=SecretStr(token)), ANONYMOUS)


async def events(auth: Any, event_type: str) -> Any:
    found = await auth.run(ListAuditEvents(filter=EventFilter(event_type=event_type)))
    return found.unwrap()


async def reason(auth: Any, token: str) -> str | None:
    result = await auth.verify(token)
    return None if result.ok else result.details["reason"]


async def test_refresh_rotates_the_refresh_token_on_every_use(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    first = await auth.tokens(EMAIL)
    auth.clock.advance(60)
    second = (await refresh(auth, first.refresh_token)).unwrap()
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert second.session_id == first.session_id
    third = (await refresh(auth, second.refresh_token)).unwrap()
    assert await reason(auth, third.access_token) is None
    sessions = (await auth.run(ListSessions(email=EMAIL))).unwrap()
    assert [s.id for s in sessions] == [first.session_id]
    assert sessions[0].last_used_at == auth.clock.now()


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    first = await auth.tokens(EMAIL)
    other_session = await auth.tokens(EMAIL)
    second = (await refresh(auth, first.refresh_token)).unwrap()

    replay = await refresh(auth, first.refresh_token)
    assert replay.details["reason"] == "refresh_token_reused"
    # The thief and the legitimate client are both cut off: every token of the family.
    assert (await refresh(auth, second.refresh_token)).details["reason"] == "session_revoked"
    assert await reason(auth, second.access_token) == "revoked"
    assert await reason(auth, first.access_token) == "revoked"
    # Another session of the same user is untouched.
    assert await reason(auth, other_session.access_token) is None
    detected = await events(auth, "RefreshTokenReuseDetected")
    assert [e.payload["session_id"] for e in detected] == [first.session_id]
    revoked = await events(auth, "SessionRevoked")
    assert revoked[0].payload["reason"] == "refresh token reuse detected"
    assert revoked[0].actor == EMAIL


async def test_an_unknown_or_expired_refresh_token_is_refused(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    pair = await auth.tokens(EMAIL)
    assert (await refresh(auth, "flxr_made-up")).details["reason"] == "unknown_refresh_token"
    auth.clock.advance(7 * 24 * 3600)
    expired = await refresh(auth, pair.refresh_token)
    assert expired.details["reason"] == "expired"


async def test_logout_blacklists_the_access_token_and_ends_the_session(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    pair = await auth.tokens(EMAIL)
    out = await auth.run(
        Logout(
            access_token=SecretStr(pair.access_token),
            refresh_token=SecretStr(pair.refresh_token),
        ),
        ANONYMOUS,
    )
    assert out.unwrap() == [pair.session_id]
    assert await reason(auth, pair.access_token) == "revoked"
    assert (await refresh(auth, pair.refresh_token)).details["reason"] == "session_revoked"
    assert (await auth.run(ListSessions(email=EMAIL))).unwrap() == []
    logged_out = await events(auth, "LoggedOut")
    assert logged_out[0].actor == EMAIL
    assert logged_out[0].payload["session_id"] == pair.session_id


async def test_logout_with_the_refresh_token_alone_ends_the_session(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    pair = await auth.tokens(EMAIL)
    out = await auth.run(Logout(refresh_token=SecretStr(pair.refresh_token)), ANONYMOUS)
    assert out.unwrap() == [pair.session_id]
    assert await reason(auth, pair.access_token) == "revoked"
    nothing = await auth.run(Logout(), ANONYMOUS)
    assert nothing.error_code == "invalid"


async def test_sessions_are_listed_and_revoked_one_or_all(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL, Role.OPERATOR)
    a = await auth.login(EMAIL, user_agent="flx-cli/1.0", address="10.0.0.7")
    b = await auth.tokens(EMAIL)
    listed = (await auth.run(ListSessions(email=EMAIL))).unwrap()
    assert {s.id for s in listed} == {a.value.session_id, b.session_id}
    first = next(s for s in listed if s.id == a.value.session_id)
    assert (first.user_agent, first.address, first.active) == ("flx-cli/1.0", "10.0.0.7", True)

    one = (await auth.run(RevokeSession(session_id=b.session_id))).unwrap()
    assert one.revoked == [b.session_id]
    assert await reason(auth, b.access_token) == "revoked"
    assert await reason(auth, a.value.access_token) is None

    every = (await auth.run(RevokeAllSessions(email=EMAIL))).unwrap()
    assert every.revoked == [a.value.session_id]
    assert await reason(auth, a.value.access_token) == "revoked"
    history = (await auth.run(ListSessions(email=EMAIL, include_revoked=True))).unwrap()
    assert all(not s.active and s.revoked_reason == "revoked by system" for s in history)
    missing = await auth.run(RevokeSession(session_id="f" * 32))
    assert missing.error_code == "not_found"


async def test_expired_refresh_tokens_are_purged_on_login(auth_db: Any) -> None:
    auth = auth_db
    await auth.user(EMAIL)
    old = await auth.tokens(EMAIL)
    auth.clock.advance(7 * 24 * 3600)
    assert (await refresh(auth, old.refresh_token)).details["reason"] == "expired"
    await auth.tokens(EMAIL)
    gone = await refresh(auth, old.refresh_token)
    assert gone.details["reason"] == "unknown_refresh_token"
