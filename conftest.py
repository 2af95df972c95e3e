"""Fixtures shared by every package's tests: database backends, Redis, a clean FLX_HOME.

PostgreSQL and Redis tests use the real servers named by ``FLX_TEST_DATABASE_URL`` and
``FLX_TEST_REDIS_URL`` (defaults: the local servers). Under ``CI=true`` a missing server
fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports grpc: with gRPC's fork support on, a connector started while a
# gRPC server runs in the test process is sometimes killed (SIGABRT) between fork and exec.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

PG_SERVER = os.environ.get("FLX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("FLX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Celery brokers of the worker tests (Redis on a database of its own).
BROKERS = {
    "amqp": os.environ.get("FLX_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
    "redis": os.environ.get("FLX_TEST_BROKER_REDIS_URL", "redis://127.0.0.1:6379/9"),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(what: str, why: object) -> None:
    message = f"{what} not available ({why})"
    if in_ci():
        pytest.fail(f"{message}: CI requires it", pytrace=False)
    pytest.skip(message)


def _server_url(dbname: str) -> str:
    base, _, _ = PG_SERVER.rpartition("/")
    return f"{base}/{dbname}"


def _admin_execute(sql: str) -> None:
    import psycopg

    with psycopg.connect(_server_url("postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated template database; each test gets a fresh copy of it."""
    try:
        import psycopg

        psycopg.connect(_server_url("postgres"), connect_timeout=5).close()
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    from flx_core.infrastructure.persistence import upgrade

    name = f"flx_tmpl_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        upgrade(_server_url(name))
        yield name
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_template: str) -> Iterator[str]:
    name = f"flx_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield _server_url(name)
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL database with no schema at all (not migrated)."""
    try:
        import psycopg

        psycopg.connect(_server_url("postgres"), connect_timeout=5).close()
    except Exception as exc:
        unavailable("PostgreSQL", exc)
    name = f"flx_empty_{uuid.uuid4().hex[:10]}"
    _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield _server_url(name)
    finally:
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy of it (migrating takes a second)."""
    from flx_core.infrastructure.persistence import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "flx.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    import shutil

    path = tmp_path / "flx.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database on each backend (the test runs once per backend)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        client = redis.Redis.from_url(REDIS, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:
        unavailable("Redis", exc)
    return REDIS


@pytest.fixture
def flx_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh FLX_HOME, with no FLX or seed variables leaking in from the environment."""
    for key in list(os.environ):
        if key.startswith("FLX_") and not key.startswith("FLX_TEST_"):
            monkeypatch.delenv(key)
    for key in (
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET_KEY",
        "JWT_ALGORITHM",
        "GRPC_PORT",
        "PLUGIN_WATCH_DIRECTORY",
        "DEBUG_MODE",
    ):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "flx-home"
    monkeypatch.setenv("FLX_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home


def reachable_broker(kind: str) -> str:
    """The URL of broker ``kind`` (amqp or redis), once it answers."""
    from kombu import Connection

    url = BROKERS[kind]
    try:
        with Connection(url, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0.2, timeout=3)
    except Exception as exc:
        unavailable(f"{kind} broker", exc)
    return url


@pytest.fixture(params=sorted(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each broker in turn: RabbitMQ and Redis (the test runs once per broker)."""
    return reachable_broker(request.param)


@pytest.fixture
def redis_broker_url() -> str:
    return reachable_broker("redis")
