"""The auth history creates exactly the tables the code maps."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from flx_auth.infrastructure import metadata
from flx_auth.migrations import MIGRATIONS
from flx_core.infrastructure.persistence import current, discover_migration_sets, heads


def test_the_auth_history_is_discovered_after_core() -> None:
    names = [ms.name for ms in discover_migration_sets()]
    assert names.index("core") < names.index("auth")
    assert heads(MIGRATIONS) == {MIGRATIONS.head}


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    assert current(database_url)["auth"] == MIGRATIONS.head
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            diff = [
                d
                for d in compare_metadata(ctx, metadata)
                if not (
                    d[0] == "remove_table"
                    or (d[0] == "remove_index" and d[1].table.name not in metadata.tables)
                )
            ]
    finally:
        engine.dispose()
    assert diff == []
