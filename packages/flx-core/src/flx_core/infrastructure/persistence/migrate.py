"""Schema migrations: one Alembic history per package that owns tables.

Each history has its own version table, so packages migrate independently; they are applied
in the order of their declared dependencies (core first). Packages contribute a
:class:`MigrationSet` through the ``flx.migrations`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flx_core.infrastructure.persistence.engine import prepare_sqlite, sync_url

if TYPE_CHECKING:
    from flx_core.config import FlxSettings
    from flx_core.infrastructure.secret_cipher import SecretCipher


@dataclass(frozen=True)
class MigrationSet:
    name: str
    script_location: Path
    version_table: str
    depends_on: tuple[str, ...] = ()
    #: The newest revision, declared so that a start-up check needs no Alembic import (a
    #: test holds it equal to the history's real head).
    head: str | None = None


CORE_MIGRATIONS = MigrationSet(
    name="core",
    script_location=Path(__file__).parent / "migrations",
    version_table="flx_core_alembic_version",
    head="0005_core",
)


def discover_migration_sets() -> list[MigrationSet]:
    """The core set plus those of installed packages, dependencies first."""
    sets = {CORE_MIGRATIONS.name: CORE_MIGRATIONS}
    for ep in entry_points(group="flx.migrations"):
        ms = ep.load()
        sets[ms.name] = ms
    ordered: list[MigrationSet] = []

    def visit(ms: MigrationSet, trail: tuple[str, ...]) -> None:
        if ms in ordered:
            return
        if ms.name in trail:
            raise ValueError(f"migration dependency cycle: {' -> '.join((*trail, ms.name))}")
        for dep in ms.depends_on:
            if dep in sets:
                visit(sets[dep], (*trail, ms.name))
        ordered.append(ms)

    for ms in sorted(sets.values(), key=lambda m: (m.name != "core", m.name)):
        visit(ms, ())
    return ordered


def _config(ms: MigrationSet, url: str, settings: FlxSettings | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ms.script_location))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    cfg.attributes["version_table"] = ms.version_table
    cfg.attributes["secret_cipher"] = lambda: _cipher(settings)
    return cfg


def _cipher(settings: FlxSettings | None) -> SecretCipher:
    """The cipher of the settings, for migrations that encrypt or decrypt stored secrets."""
    from flx_core.config import load_settings
    from flx_core.infrastructure.secret_cipher import secret_cipher

    return secret_cipher(settings or load_settings())


def heads(ms: MigrationSet) -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(_config(ms, "sqlite://")).get_heads())


def upgrade(
    url: str,
    revision: str = "heads",
    sets: list[MigrationSet] | None = None,
    *,
    settings: FlxSettings | None = None,
) -> None:
    """Apply migrations. ``settings`` give the secret key to migrations that encrypt
    (the environment's settings when not given); it is read only if a row needs it."""
    from alembic import command

    prepare_sqlite(url)
    for ms in sets or discover_migration_sets():
        command.upgrade(_config(ms, url, settings), revision)


def downgrade(
    url: str, revision: str, package: str = "core", *, settings: FlxSettings | None = None
) -> None:
    """Downgrade one package's history (``revision`` may be ``base`` or ``-1``)."""
    from alembic import command

    by_name = {ms.name: ms for ms in discover_migration_sets()}
    if package not in by_name:
        raise ValueError(f"no migrations for package {package!r} (have {', '.join(by_name)})")
    # Dependents first: downgrading core under tables that reference it would fail.
    command.downgrade(_config(by_name[package], url, settings), revision)


def current(url: str) -> dict[str, str | None]:
    """The applied revision of every history (None: not migrated)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    prepare_sqlite(url)
    engine = create_engine(sync_url(url))
    out: dict[str, str | None] = {}
    try:
        with engine.connect() as conn:
            for ms in discover_migration_sets():
                ctx = MigrationContext.configure(conn, opts={"version_table": ms.version_table})
                out[ms.name] = ctx.get_current_revision()
    finally:
        engine.dispose()
    return out


def _sqlite_revisions(url: str, sets: list[MigrationSet]) -> dict[str, str | None] | None:
    """Applied revisions read with the standard library (fast); None if not SQLite."""
    import sqlite3

    from flx_core.infrastructure.persistence.engine import sqlite_path

    path = sqlite_path(url)
    if path is None:
        return None
    if not path.exists():
        return {ms.name: None for ms in sets}
    out: dict[str, str | None] = {}
    with sqlite3.connect(path) as conn:
        for ms in sets:
            try:
                query = f'SELECT version_num FROM "{ms.version_table}"'  # noqa: S608 - our own name
                row = conn.execute(query).fetchone()
            except sqlite3.OperationalError:
                row = None
            out[ms.name] = row[0] if row else None
    return out


def is_up_to_date(url: str) -> bool:
    sets = discover_migration_sets()
    if all(ms.head for ms in sets):
        applied = _sqlite_revisions(url, sets)
        if applied is not None:
            return all(applied.get(ms.name) == ms.head for ms in sets)
    applied = current(url)
    return all(applied.get(ms.name) in heads(ms) for ms in sets)
