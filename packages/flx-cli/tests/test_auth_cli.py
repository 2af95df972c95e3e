"""`flx user` and `flx auth` through the real `flx` executable, as an operator would use them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLX = str(Path(sys.executable).parent / "flx")
PASSWORD = "correct horse battery staple"


def flx(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLX, *args], capture_output=True, text=True, env=env, input=input, timeout=120, check=False
    )


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY")
    }
    env.update(FLX_HOME=str(home), FLX_BCRYPT_ROUNDS="4", FLX_DAEMON="off", **extra)
    return env


def part(token: str, index: int) -> dict[str, object]:
    segment = token.split(".")[index]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(segment + "==="))
    return decoded


def login(env: dict[str, str], email: str = "admin@example.com") -> dict[str, str]:
    out = flx(env, "--json", "auth", "login", "--email", email, "--password-stdin", input=PASSWORD)
    assert out.returncode == 0, out.stderr
    pair: dict[str, str] = json.loads(out.stdout)
    return pair


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = environment(tmp_path / "home")
    created = flx(
        env, "user", "create", "admin@example.com", "--admin", "--password-stdin", input=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "created user admin@example.com (admin)"
    return env


def test_login_verify_revoke_then_verify_says_why(env: dict[str, str]) -> None:
    pair = login(env)
    assert part(pair["access_token"], 0)["alg"] == "RS256"
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900

    accepted = flx(env, "--json", "auth", "verify", pair["access_token"])
    assert accepted.returncode == 0, accepted.stderr
    verified = json.loads(accepted.stdout)
    assert verified["valid"] is True and verified["email"] == "admin@example.com"
    assert verified["claims"]["roles"] == ["admin"]

    revoked = flx(env, "auth", "revoke", "--all", "admin@example.com")
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stdout.strip() == "revoked 1 session(s) of admin@example.com"

    rejected = flx(env, "auth", "verify", pair["access_token"])
    assert rejected.returncode == 1
    assert rejected.stderr.strip() == "error: token rejected: revoked (by logout or revocation)"
    assert pair["access_token"] not in rejected.stderr + rejected.stdout


def test_secrets_stay_out_of_every_output_but_the_login(env: dict[str, str]) -> None:
    pair = login(env)
    outputs = [
        flx(env, "--json", "user", "list"),
        flx(env, "--json", "user", "show", "admin@example.com"),
        flx(env, "--json", "auth", "sessions", "admin@example.com"),
        flx(env, "--json", "auth", "verify", pair["access_token"]),
        flx(env, "auth", "login", "--email", "admin@example.com", "--password-stdin", input="no"),
    ]
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert "$2b$" not in text and PASSWORD not in text and "password_hash" not in text
    assert pair["refresh_token"] not in text
    assert outputs[-1].returncode == 1
    assert outputs[-1].stderr.strip() == "error: invalid email or password"


def test_user_administration(env: dict[str, str]) -> None:
    add = flx(
        env,
        "user",
        "create",
        "ops@example.com",
        "--role",
        "operator",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert add.returncode == 0, add.stderr
    role = flx(env, "user", "set-role", "ops@example.com", "viewer", "operator")
    assert role.stdout.strip() == "user ops@example.com now has role(s) operator, viewer"
    assert flx(env, "user", "disable", "ops@example.com").returncode == 0
    refused = login_error(env, "ops@example.com")
    assert refused == "error: account disabled"
    assert flx(env, "user", "enable", "ops@example.com").returncode == 0
    reset = flx(
        env,
        "user",
        "reset-password",
        "ops@example.com",
        "--password-stdin",
        input="a new long password",
    )
    assert reset.returncode == 0, reset.stderr
    listed = json.loads(flx(env, "--json", "user", "list").stdout)
    assert [(u["email"], u["roles"], u["active"]) for u in listed] == [
        ("admin@example.com", ["admin"], True),
        ("ops@example.com", ["operator", "viewer"], True),
    ]
    assert flx(env, "user", "delete", "ops@example.com", "--yes").returncode == 0
    gone = flx(env, "user", "show", "ops@example.com")
    assert gone.returncode == 1
    assert gone.stderr.strip() == "error: user 'ops@example.com' not found"
    last = flx(env, "user", "delete", "admin@example.com", "--yes")
    assert last.stderr.strip() == (
        "error: cannot delete admin@example.com: it is the last active admin"
    )


def login_error(env: dict[str, str], email: str) -> str:
    out = flx(env, "auth", "login", "--email", email, "--password-stdin", input=PASSWORD)
    assert out.returncode == 1
    return out.stderr.strip()


def test_bad_input_is_one_line_and_a_usage_error_without_a_terminal(tmp_path: Path) -> None:
    env = environment(tmp_path / "home")
    short = flx(env, "user", "create", "a@example.com", "--password-stdin", input="short")
    assert (short.returncode, short.stderr.strip()) == (
        1,
        "error: password too short: use at least 12 characters",
    )
    no_tty = flx(env, "user", "create", "a@example.com", input="")
    assert no_tty.returncode == 2 and "--password-stdin" in no_tty.stderr
    bad_email = flx(env, "user", "show", "nope")
    assert bad_email.stderr.strip() == "error: email: invalid email address 'nope'"
    both = flx(env, "auth", "revoke", "abc", "--all", "a@example.com")
    assert both.returncode == 2
    garbage = flx(env, "auth", "verify", "not-a-token")
    assert garbage.stderr.strip() == "error: token rejected: malformed (not a JWT)"


def test_first_admin_from_the_environment_and_key_rotation(tmp_path: Path) -> None:
    env = environment(
        tmp_path / "home", FLX_ADMIN_EMAIL="root@example.com", FLX_ADMIN_PASSWORD=PASSWORD
    )
    listed = json.loads(flx(env, "--json", "user", "list").stdout)
    assert [(u["email"], u["roles"]) for u in listed] == [("root@example.com", ["admin"])]
    keys = tmp_path / "home" / "keys"
    pair = login(env, "root@example.com")
    assert oct(keys.stat().st_mode & 0o777) == "0o700"
    assert oct((keys / "current.pem").stat().st_mode & 0o777) == "0o600"
    rotated = json.loads(flx(env, "--json", "auth", "rotate-keys").stdout)
    assert rotated["previous_kid"] == part(pair["access_token"], 0)["kid"]
    assert flx(env, "auth", "verify", pair["access_token"]).returncode == 0
    out = flx(
        env,
        "auth",
        "logout",
        "--access-token",
        pair["access_token"],
        "--refresh-token",
        pair["refresh_token"],
    )
    assert out.returncode == 0, out.stderr
    assert flx(env, "auth", "verify", pair["access_token"]).returncode == 1


@pytest.mark.redis
def test_with_redis_a_revoked_jti_lives_in_redis_as_long_as_the_token(
    tmp_path: Path, redis_url: str
) -> None:
    import redis

    env = environment(tmp_path / "home", REDIS_URL=redis_url)
    created = flx(
        env, "user", "create", "admin@example.com", "--admin", "--password-stdin", input=PASSWORD
    )
    assert created.returncode == 0, created.stderr
    pair = login(env)
    claims = part(pair["access_token"], 1)
    assert flx(env, "auth", "revoke", "--all", "admin@example.com").returncode == 0
    key = f"flx:auth:blacklist:{claims['jti']}"
    client = redis.Redis.from_url(redis_url)
    try:
        remaining = int(claims["exp"]) - time.time()  # type: ignore[call-overload]
        ttl = client.ttl(key)
        assert abs(ttl - remaining) <= 2, (ttl, remaining)
        rejected = flx(env, "auth", "verify", pair["access_token"])
        assert "token rejected: revoked" in rejected.stderr
    finally:
        client.delete(key)
        client.close()
