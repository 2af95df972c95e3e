"""Users over HTTP: administrators create, change, disable, delete accounts and end their
sessions; operators may only read them, viewers not even that. A password goes in, never out."""

from __future__ import annotations

from typing import Any

import httpx

from flx_auth import Role

USERS = "/api/v1/users"
NEW_PASSWORD = "a long enough password"
NEW: dict[str, Any] = {
    "email": "Grace@Example.com",
    "password": NEW_PASSWORD,
    "roles": ["operator"],
}
ADMIN = "admin@example.com"
OPERATOR = "operator@example.com"
VIEWER = "viewer@example.com"
PASSWORD = "correct horse battery staple"


def login(api: Any, email: str, password: str = PASSWORD) -> httpx.Response:
    response: httpx.Response = api.anonymous.post(
        "/api/v1/auth/login", json={"email": email, "password": password}
    )
    return response


def bearer(api: Any, token: str) -> httpx.Client:
    client: httpx.Client = api.client(None, Authorization=f"Bearer {token}")
    return client


def reason(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    value: str = response.json()["details"]["reason"]
    return value


def test_admin_creates_a_user_who_can_then_log_in(api: Any) -> None:
    created = api.admin.post(USERS, json=NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "grace@example.com"
    assert body["roles"] == ["operator"]
    assert body["active"] is True
    assert created.headers["location"] == "/api/v1/users/grace@example.com"
    assert NEW_PASSWORD not in created.text
    assert "password" not in body
    pair = login(api, "grace@example.com", NEW_PASSWORD)
    assert pair.status_code == 200, pair.text
    me = bearer(api, pair.json()["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["id"] == body["id"]
    # The path finds the account however the email is cased.
    assert api.operator.get(f"{USERS}/GRACE@example.com").json()["id"] == body["id"]
    again = api.admin.post(USERS, json=NEW)
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"
    listed = api.admin.get(USERS)
    assert listed.status_code == 200
    assert {u["email"] for u in listed.json()} == {ADMIN, OPERATOR, VIEWER, "grace@example.com"}
    assert "$2b$" not in listed.text


def test_a_weak_password_is_422_naming_the_rule_and_creates_nobody(sqlite_api: Any) -> None:
    api = sqlite_api
    weak = "tiny-secret"
    created = api.admin.post(USERS, json={**NEW, "password": weak})
    assert created.status_code == 422
    problem = created.json()
    assert problem["code"] == "invalid"
    assert "at least 12 characters" in problem["detail"]
    assert weak not in created.text
    assert api.admin.get(f"{USERS}/grace@example.com").status_code == 404
    reset = api.admin.post(f"{USERS}/{VIEWER}/password", json={"password": weak})
    assert reset.status_code == 422
    assert "at least 12 characters" in reset.json()["detail"]
    assert login(api, VIEWER).status_code == 200


def test_bad_input_is_422_with_the_field_paths(sqlite_api: Any) -> None:
    api = sqlite_api
    no_email = api.admin.get(f"{USERS}/not-an-email")
    assert no_email.status_code == 422
    assert {e["field"] for e in no_email.json()["errors"]} == {"path.email"}
    bad = api.admin.post(USERS, json={"email": "x@example.com", "password": "p" * 20, "roles": []})
    assert bad.status_code == 422
    assert "body.roles" in {e["field"] for e in bad.json()["errors"]}
    patch = api.admin.patch(f"{USERS}/{VIEWER}", json={"roles": ["root"]})
    assert patch.status_code == 422
    assert api.admin.get(f"{USERS}/{VIEWER}").json()["roles"] == ["viewer"]


WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", USERS, {**NEW, "email": "mallory@example.com"}),
    ("PATCH", f"{USERS}/{VIEWER}", {"roles": ["admin"]}),
    ("PATCH", f"{USERS}/{ADMIN}", {"active": False}),
    ("POST", f"{USERS}/{ADMIN}/password", {"password": "mallory owns this now"}),
    ("DELETE", f"{USERS}/{ADMIN}", None),
    ("DELETE", f"{USERS}/{ADMIN}/sessions", None),
    ("DELETE", f"{USERS}/{ADMIN}/sessions/{'0' * 32}", None),
]
READS = [USERS, f"{USERS}/{ADMIN}", f"{USERS}/{ADMIN}/sessions"]


def test_viewer_and_operator_are_refused_every_users_write(sqlite_api: Any) -> None:
    api = sqlite_api
    for role in (Role.VIEWER, Role.OPERATOR):
        client = api.client(role)
        for method, path, body in WRITES:
            response = client.request(method, path, json=body)
            assert response.status_code == 403, (role, method, path, response.text)
            assert response.json()["code"] == "permission_denied"
    # Operators read users (user:read); viewers do not.
    for path in READS:
        assert api.operator.get(path).status_code == 200, path
        assert api.viewer.get(path).status_code == 403, path
    # Nothing changed: the admin still logs in with the old password and keeps the role.
    assert login(api, ADMIN).status_code == 200
    assert api.admin.get(f"{USERS}/{VIEWER}").json()["roles"] == ["viewer"]
    assert api.admin.get(f"{USERS}/mallory@example.com").status_code == 404


def test_patch_changes_roles_and_disabling_refuses_the_users_tokens(sqlite_api: Any) -> None:
    api = sqlite_api
    viewer = api.viewer
    assert viewer.get(USERS).status_code == 403
    promoted = api.admin.patch(f"{USERS}/{VIEWER}", json={"roles": ["operator"]})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["roles"] == ["operator"]
    # The token's holder acts with the user's current roles at once.
    assert viewer.get(USERS).status_code == 200
    disabled = api.admin.patch(f"{USERS}/{VIEWER}", json={"active": False})
    assert disabled.json()["active"] is False
    assert reason(viewer.get("/api/v1/auth/me")) == "user_disabled"
    assert reason(login(api, VIEWER)) == "account_disabled"
    enabled = api.admin.patch(f"{USERS}/{VIEWER}", json={"active": True, "roles": ["viewer"]})
    assert enabled.json()["active"] is True
    assert enabled.json()["roles"] == ["viewer"]
    assert login(api, VIEWER).status_code == 200


def test_the_last_active_admin_can_be_neither_demoted_disabled_nor_deleted(
    sqlite_api: Any,
) -> None:
    api = sqlite_api
    for method, body in (("PATCH", {"roles": ["viewer"]}), ("PATCH", {"active": False})):
        refused = api.admin.request(method, f"{USERS}/{ADMIN}", json=body)
        assert refused.status_code == 422, refused.text
        assert "last active admin" in refused.json()["detail"]
    # Both changes in one request: refused as a whole, nothing applied.
    both = api.admin.patch(f"{USERS}/{ADMIN}", json={"roles": ["viewer"], "active": False})
    assert both.status_code == 422
    assert api.admin.delete(f"{USERS}/{ADMIN}").status_code == 422
    me = api.admin.get("/api/v1/auth/me").json()
    assert (me["roles"], me["active"]) == (["admin"], True)


def test_reset_password_ends_the_users_sessions(sqlite_api: Any) -> None:
    api = sqlite_api
    new_password = "a brand new long password"
    reset = api.admin.post(f"{USERS}/{VIEWER}/password", json={"password": new_password})
    assert reset.status_code == 200, reset.text
    assert new_password not in reset.text
    assert reason(api.viewer.get("/api/v1/auth/me")) == "revoked"
    assert reason(login(api, VIEWER)) == "bad_credentials"
    assert login(api, VIEWER, new_password).status_code == 200


def test_delete_user_refuses_their_token_and_forgets_them(sqlite_api: Any) -> None:
    api = sqlite_api
    viewer = api.viewer
    deleted = api.admin.delete(f"{USERS}/{VIEWER}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.admin.get(f"{USERS}/{VIEWER}").status_code == 404
    assert reason(viewer.get("/api/v1/auth/me")) == "user_deleted"
    assert api.admin.delete(f"{USERS}/{VIEWER}").status_code == 404


def test_admin_lists_and_ends_a_users_sessions(sqlite_api: Any) -> None:
    api = sqlite_api
    second = login(api, VIEWER).json()
    third = login(api, VIEWER).json()
    sessions = api.admin.get(f"{USERS}/{VIEWER}/sessions")
    assert sessions.status_code == 200
    listed = sessions.json()
    assert len(listed) == 3
    assert {s["email"] for s in listed} == {VIEWER}
    assert {second["session_id"], third["session_id"]} <= {s["id"] for s in listed}
    # A session of the viewer is not found under another user's address.
    elsewhere = api.admin.delete(f"{USERS}/{OPERATOR}/sessions/{second['session_id']}")
    assert elsewhere.status_code == 404
    assert bearer(api, second["access_token"]).get("/api/v1/auth/me").status_code == 200
    one = api.admin.delete(f"{USERS}/{VIEWER}/sessions/{second['session_id']}")
    assert one.status_code == 200, one.text
    assert one.json() == {"email": VIEWER, "revoked": [second["session_id"]]}
    assert reason(bearer(api, second["access_token"]).get("/api/v1/auth/me")) == "revoked"
    assert bearer(api, third["access_token"]).get("/api/v1/auth/me").status_code == 200
    rest = api.admin.delete(f"{USERS}/{VIEWER}/sessions")
    assert len(rest.json()["revoked"]) == 2
    assert reason(bearer(api, third["access_token"]).get("/api/v1/auth/me")) == "revoked"
    assert reason(api.viewer.get("/api/v1/auth/me")) == "revoked"
    assert api.admin.get(f"{USERS}/{VIEWER}/sessions").json() == []
    everything = api.admin.get(f"{USERS}/{VIEWER}/sessions", params={"include_revoked": True})
    assert [s["active"] for s in everything.json()] == [False, False, False]


def test_an_unknown_user_is_404_for_reads_and_writes(sqlite_api: Any) -> None:
    api = sqlite_api
    nobody = f"{USERS}/nobody@example.com"
    for method, path, body in [
        ("GET", nobody, None),
        ("GET", f"{nobody}/sessions", None),
        ("PATCH", nobody, {"active": False}),
        ("POST", f"{nobody}/password", {"password": "a long enough password"}),
        ("DELETE", nobody, None),
        ("DELETE", f"{nobody}/sessions", None),
    ]:
        response = api.admin.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"] == "not_found"
