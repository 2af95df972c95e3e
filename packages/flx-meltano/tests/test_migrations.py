"""The engine's history: its declared head is the real one, and it creates the tables the
code maps."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

import flx_meltano.install_jobs  # noqa: F401  (maps its table on the engine's metadata)
from flx_core.infrastructure.persistence import current, discover_migration_sets, heads
from flx_meltano.migrations import MIGRATIONS
from flx_meltano.tables import metadata


def test_the_engine_history_is_discovered_after_core_with_its_declared_head() -> None:
    names = [ms.name for ms in discover_migration_sets()]
    assert names.index("core") < names.index("meltano")
    assert heads(MIGRATIONS) == {MIGRATIONS.head}


def test_the_migrated_schema_matches_the_engine_tables(database_url: str) -> None:
    assert current(database_url)["meltano"] == MIGRATIONS.head
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            diff = [
                d
                for d in compare_metadata(MigrationContext.configure(conn), metadata)
                if not (
                    d[0] == "remove_table"
                    or (d[0] == "remove_index" and d[1].table.name not in metadata.tables)
                )
            ]
    finally:
        engine.dispose()
    assert diff == []
