"""The API's rate limit holds across server processes: two `flx serve` on one database
count a client's requests together in Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from flx_cli.testing import ServeProcess, serve_environment

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

EMAIL, PASSWORD = "admin@example.com", "correct horse battery staple"
#: The limits of this test live in a Redis database of their own; only their keys are
#: cleared, so that other tests' keys (other databases, other prefixes) stay as they are.
LIMITS_DB = 5


def test_ten_requests_over_two_servers_pass_and_the_eleventh_is_refused(
    flx_home: Path, tmp_path: Path, postgres_url: str, redis_url: str, signing_pem: str
) -> None:
    limits_url = f"{redis_url.rsplit('/', 1)[0]}/{LIMITS_DB}"
    store = redis.Redis.from_url(limits_url)
    try:
        for key in store.scan_iter("flx-limits*"):
            store.delete(key)
    finally:
        store.close()
    env = serve_environment(
        flx_home,
        FLX_DATABASE_URL=postgres_url,
        FLX_REDIS_URL=limits_url,
        FLX_API_RATE_LIMIT="10/minute",
        FLX_API_LOGIN_RATE_LIMIT="1000/minute",
        # Both servers sign and check tokens with one key, as every process of an
        # installation does.
        FLX_JWT_PRIVATE_KEY=signing_pem,
        FLX_ADMIN_EMAIL=EMAIL,
        FLX_ADMIN_PASSWORD=PASSWORD,
    )
    with (
        ServeProcess(env, "--no-scheduler", cwd=tmp_path, name="first") as first,
        ServeProcess(env, "--no-scheduler", cwd=tmp_path, name="second") as second,
    ):
        assert first.url != second.url
        token = first.login(EMAIL, PASSWORD)
        with first.client(token) as one, second.client(token) as two:
            for n in range(10):
                response = (one if n % 2 == 0 else two).get("/api/v1/auth/me")
                assert response.status_code == 200, response.text
                assert response.headers["RateLimit-Remaining"] == str(9 - n)
            for client in (two, one):
                refused = client.get("/api/v1/auth/me")
                assert refused.status_code == 429, refused.text
                assert int(refused.headers["Retry-After"]) >= 1
                assert refused.json()["code"] == "rate_limited"
