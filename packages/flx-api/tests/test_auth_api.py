"""Logging in, refreshing, logging out, the caller's own account and sessions, and the
limits on requests and on login attempts, through the real server. No password or token
ever shows in an answer or in the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from flx_auth import CurrentUser, ListOwnSessions, RevokeOwnSession, Role
from flx_core.application import ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.domain import Principal

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
SESSIONS = "/api/v1/auth/sessions"
PASSWORD = "correct horse battery staple"
VIEWER = "viewer@example.com"


def bearer(api: Any, token: str) -> httpx.Client:
    client: httpx.Client = api.client(None, Authorization=f"Bearer {token}")
    return client


def login(api: Any, email: str = VIEWER, password: str = PASSWORD) -> dict[str, Any]:
    response = api.anonymous.post(LOGIN, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    pair: dict[str, Any] = response.json()
    return pair


def reason(response: httpx.Response) -> str:
    """The reason of a 401, as the problem document and the challenge header both give it."""
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    value: str = response.json()["details"]["reason"]
    assert f'reason="{value}"' in response.headers["www-authenticate"]
    return value


@contextmanager
def from_address(api: Any, address: str) -> Iterator[httpx.Client]:
    """A client whose requests come from another loopback address (another client to the
    limits, which count a caller without a token by its address)."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=api.url, transport=transport, timeout=30) as client:
        yield client


def test_login_refresh_rotates_and_a_reused_refresh_token_ends_the_session(api: Any) -> None:
    first = login(api)
    assert first["token_type"] == "Bearer"
    assert first["expires_in"] > 0
    me = bearer(api, first["access_token"]).get(ME)
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["roles"]) == (VIEWER, ["viewer"])

    rotated = api.anonymous.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert bearer(api, second["access_token"]).get(ME).status_code == 200

    replay = api.anonymous.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert replay.status_code == 401
    assert replay.json()["details"]["reason"] == "refresh_token_reused"
    # The whole session ended: the refresh token and the access token it had just issued.
    after = api.anonymous.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert after.json()["details"]["reason"] == "session_revoked"
    assert reason(bearer(api, second["access_token"]).get(ME)) == "revoked"
    sessions = api.admin.get(
        f"/api/v1/users/{VIEWER}/sessions", params={"include_revoked": True}
    ).json()
    ended = next(s for s in sessions if s["id"] == first["session_id"])
    assert ended["active"] is False
    assert ended["revoked_reason"] == "refresh token reuse detected"
    # The viewer's other session (the fixture's login) goes on.
    assert api.viewer.get(ME).status_code == 200


def test_wrong_credentials_are_401_with_the_same_answer_for_unknown_emails(
    sqlite_api: Any,
) -> None:
    api = sqlite_api
    wrong = api.anonymous.post(LOGIN, json={"email": VIEWER, "password": "not the password"})
    unknown = api.anonymous.post(
        LOGIN, json={"email": "nobody@example.com", "password": "not the password"}
    )
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["details"]["reason"] == "bad_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_logout_makes_the_access_token_401_revoked(sqlite_api: Any) -> None:
    api = sqlite_api
    operator = api.operator
    assert operator.get(ME).status_code == 200
    out = operator.post("/api/v1/auth/logout")
    assert out.status_code == 204
    assert reason(operator.get(ME)) == "revoked"
    assert reason(operator.get("/api/v1/pipelines")) == "revoked"
    refreshed = api.anonymous.post(
        "/api/v1/auth/refresh", json={"refresh_token": api.refresh[Role.OPERATOR]}
    )
    assert refreshed.json()["details"]["reason"] == "session_revoked"
    # Other users are not affected.
    assert api.viewer.get(ME).status_code == 200


def test_an_expired_access_token_is_401_expired(make_api: Any, sqlite_url: str) -> None:
    with make_api(sqlite_url, access_token_ttl_seconds=1) as api:
        pair = login(api)
        assert pair["expires_in"] == 1
        client = bearer(api, pair["access_token"])
        deadline = time.monotonic() + 15
        response = client.get(ME)
        while response.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
            response = client.get(ME)
        assert reason(response) == "expired"
        # Its refresh token still gets a new pair.
        renewed = api.anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert renewed.status_code == 200, renewed.text


def test_missing_and_malformed_tokens_are_401(sqlite_api: Any) -> None:
    api = sqlite_api
    missing = api.anonymous.get(ME)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert api.anonymous.get(SESSIONS).status_code == 401
    assert api.anonymous.delete(f"{SESSIONS}/{'0' * 32}").status_code == 401
    assert reason(bearer(api, "not-a-token").get(ME)) == "malformed"


def test_me_and_own_sessions_only_ever_reach_the_callers_own(sqlite_api: Any) -> None:
    api = sqlite_api
    me = api.viewer.get(ME)
    assert me.status_code == 200
    assert me.json()["email"] == VIEWER
    assert "password" not in me.text
    extra = login(api)
    mine = api.viewer.get(SESSIONS)
    assert mine.status_code == 200
    assert len(mine.json()) == 2
    assert {s["email"] for s in mine.json()} == {VIEWER}
    assert extra["session_id"] in {s["id"] for s in mine.json()}
    # Each user sees only their own sessions.
    admins = api.admin.get(SESSIONS).json()
    assert [s["email"] for s in admins] == ["admin@example.com"]
    admin_session = admins[0]["id"]

    # Another user's session id is not found, exactly as an unknown one is: ids do not leak.
    theirs = api.viewer.delete(f"{SESSIONS}/{admin_session}")
    unknown = api.viewer.delete(f"{SESSIONS}/{'0' * 32}")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json()["code"] == unknown.json()["code"] == "not_found"
    assert api.admin.get(ME).status_code == 200

    ended = api.viewer.delete(f"{SESSIONS}/{extra['session_id']}")
    assert ended.status_code == 200, ended.text
    assert ended.json() == {"email": VIEWER, "revoked": [extra["session_id"]]}
    assert reason(bearer(api, extra["access_token"]).get(ME)) == "revoked"
    assert api.viewer.get(ME).status_code == 200
    assert len(api.viewer.get(SESSIONS).json()) == 1
    everything = api.viewer.get(SESSIONS, params={"include_revoked": True}).json()
    assert {s["id"]: s["active"] for s in everything}[extra["session_id"]] is False
    # Ending it again revokes nothing more.
    again = api.viewer.delete(f"{SESSIONS}/{extra['session_id']}")
    assert again.json()["revoked"] == []


def test_the_login_limit_counts_attempts_per_email_and_per_address(
    make_api: Any, sqlite_url: str
) -> None:
    with make_api(sqlite_url, api_login_rate_limit="3/minute") as api:
        created = api.admin.post(
            "/api/v1/users", json={"email": "lin@example.com", "password": PASSWORD}
        )
        assert created.status_code == 201, created.text
        with from_address(api, "127.0.0.2") as first:
            for _ in range(3):
                attempt = first.post(LOGIN, json={"email": "lin@example.com", "password": "nope"})
                assert attempt.status_code == 401, attempt.text
        # The fourth attempt for the email is refused from any address, right password or not.
        with from_address(api, "127.0.0.3") as second:
            refused = second.post(LOGIN, json={"email": "lin@example.com", "password": PASSWORD})
            assert refused.status_code == 429, refused.text
            assert int(refused.headers["retry-after"]) >= 1
            assert "3" in refused.headers.get_list("ratelimit-limit")
            assert "0" in refused.headers.get_list("ratelimit-remaining")
            assert refused.headers["ratelimit-reset"]
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "rate_limited"
            assert PASSWORD not in refused.text
            # Another email from that address still logs in.
            assert (
                second.post(LOGIN, json={"email": VIEWER, "password": PASSWORD}).status_code == 200
            )
        # The fixture's three logins came from 127.0.0.1: that address has had its three.
        spent = api.anonymous.post(LOGIN, json={"email": "lin@example.com", "password": PASSWORD})
        assert spent.status_code == 429


def test_the_request_limit_counts_per_token_and_per_address(make_api: Any, sqlite_url: str) -> None:
    with make_api(sqlite_url, api_rate_limit="5/minute") as api:
        admin = api.admin
        remaining = []
        for _ in range(5):
            response = admin.get(ME)
            assert response.status_code == 200, response.text
            remaining.append(response.headers["ratelimit-remaining"])
        assert remaining == ["4", "3", "2", "1", "0"]
        refused = admin.get(ME)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-limit"] == "5"
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "rate_limited"
        # Another token is another client.
        assert api.viewer.get(ME).status_code == 200
        # Without a token a client is its address: the fixture's three logins came from
        # 127.0.0.1, so two more requests are allowed and the sixth is refused.
        anonymous = api.anonymous
        assert [anonymous.get(ME).status_code for _ in range(3)] == [401, 401, 429]
        with from_address(api, "127.0.0.2") as other:
            assert other.get(ME).status_code == 401


def test_no_password_or_token_shows_in_answers_or_in_the_log(
    sqlite_api: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    api = sqlite_api
    caplog.set_level(logging.DEBUG)
    password, wrong, weak = "a secret nobody may read", "a wrong guess at it", "tiny-secret"
    answers = [
        api.admin.post("/api/v1/users", json={"email": "sec@example.com", "password": password}),
        api.admin.post("/api/v1/users", json={"email": "weak@example.com", "password": weak}),
        api.anonymous.post(LOGIN, json={"email": "sec@example.com", "password": wrong}),
    ]
    pair = login(api, "sec@example.com", password)
    client = bearer(api, pair["access_token"])
    answers += [
        client.get(ME),
        client.get(SESSIONS),
        api.admin.get("/api/v1/users"),
        api.admin.get("/api/v1/users/sec@example.com/sessions"),
        api.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        api.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        client.post("/api/v1/auth/logout"),
        client.get(ME),
        api.admin.post("/api/v1/users/sec@example.com/password", json={"password": password + "!"}),
    ]
    assert [a.status_code for a in answers] == [
        201,
        422,
        401,
        200,
        200,
        200,
        200,
        200,
        401,
        204,
        401,
        200,
    ]
    secrets = [password, password + "!", wrong, weak, pair["access_token"], pair["refresh_token"]]
    for answer in answers:
        for secret in secrets:
            assert secret not in answer.text, answer.request.url
        assert "$2b$" not in answer.text
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    for secret in secrets:
        assert secret not in logged


def test_the_own_account_messages_refuse_the_anonymous_principal_at_the_bus(
    sqlite_api: Any,
) -> None:
    """They need no permission, so the bus lets anyone through: the handlers refuse a caller
    with no account, whatever adapter sends the message."""
    viewer = Principal(subject=VIEWER, roles=frozenset({"viewer"}))

    async def outcomes(principal: Principal) -> list[str | None]:
        runtime = await bootstrap(sqlite_api.settings, kind=ProcessKind.CLI, migrate=False)
        try:
            codes = []
            for message in (
                CurrentUser(),
                ListOwnSessions(),
                RevokeOwnSession(session_id="0" * 32),
            ):
                result = await runtime.app.execute(message, principal=principal)
                codes.append("ok" if result.ok else result.error_code)
            return codes
        finally:
            await runtime.aclose()

    assert asyncio.run(outcomes(Principal.anonymous())) == ["unauthenticated"] * 3
    assert asyncio.run(outcomes(Principal.system())) == ["not_found"] * 3
    assert asyncio.run(outcomes(viewer)) == ["ok", "ok", "not_found"]
