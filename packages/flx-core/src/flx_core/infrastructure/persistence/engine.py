"""Database URLs and engines: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from flx_core.config import FlxSettings
from flx_core.infrastructure.private_files import init_database_dir


def database_url(settings: FlxSettings) -> str:
    """The configured URL, or SQLite at ``$FLX_HOME/flx.db``."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.home_path / 'flx.db'}"


def async_url(url: str) -> str:
    """The URL with the async driver FLX uses (aiosqlite, psycopg 3)."""
    scheme, _, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


def sync_url(url: str) -> str:
    """The URL with a synchronous driver, for migrations."""
    scheme, _, rest = url.partition("://")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unsupported database URL scheme {scheme!r}")


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    rest = url.partition("://")[2]
    path = rest[1:] if rest.startswith("/") else rest
    return Path(path) if path and path != ":memory:" else None


def prepare_sqlite(url: str) -> None:
    """Create the SQLite file owner-only (0600, in a 0700 directory) before anything connects:
    SQLite would create it with the umask's mode, and its journal files copy that mode."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        init_database_dir(path)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide where transactions begin, so that SAVEPOINTs
    # and rollbacks behave as on PostgreSQL (the driver's own handling commits early).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets `flx execution cancel` write while `flx run` holds the database.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # IMMEDIATE: take the write lock at the start, waiting (busy_timeout) for another
    # process's transaction to end. A deferred BEGIN that reads and then writes fails at
    # once with "database is locked" when another connection wrote in between: SQLite
    # cannot upgrade a read snapshot that is no longer the latest, and does not wait.
    # Transactions here are short, so serializing them costs little.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _refused_value(context: Any) -> None:
    """A value the database cannot store (a NUL character in text on PostgreSQL, a number
    out of its range) is bad input, not a server error: raise it as a validation failure
    naming the problem, which every adapter answers as such (the API: 422)."""
    from sqlalchemy.exc import DataError

    from flx_core.domain.errors import ValidationFailed

    original = context.original_exception
    if isinstance(context.sqlalchemy_exception, DataError) or isinstance(original, OverflowError):
        reason = str(original).splitlines()[0] if str(original) else type(original).__name__
        raise ValidationFailed(
            f"a value cannot be stored: {reason} (text may not hold NUL characters; "
            "numbers must fit in 64 bits)"
        ) from None


def make_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None:
        prepare_sqlite(url)
        engine = create_async_engine(async_url(url), echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
    else:
        engine = create_async_engine(async_url(url), echo=echo, pool_pre_ping=True)
    event.listen(engine.sync_engine, "handle_error", _refused_value)
    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
