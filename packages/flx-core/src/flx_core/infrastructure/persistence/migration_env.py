"""The body of every FLX history's Alembic ``env.py``: each env.py calls :func:`run`.

Migrations run on a synchronous engine (sqlite3, psycopg 3); each history keeps its own
version table, and autogenerate compares only the history's own tables.
"""

from __future__ import annotations

from typing import Any


def run() -> None:
    from alembic import context
    from sqlalchemy import create_engine, pool

    config = context.config
    target = config.attributes.get("target_metadata")

    def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
        if type_ == "table" and target is not None:
            return name in target.tables
        return True

    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("migrations need sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                version_table=config.attributes.get("version_table", "alembic_version"),
                render_as_batch=connection.dialect.name == "sqlite",
                target_metadata=target,
                include_name=include_name,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
