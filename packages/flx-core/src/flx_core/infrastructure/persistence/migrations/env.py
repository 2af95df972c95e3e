"""Alembic environment shared by every FLX migration history."""

from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url is not None
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        version_table=config.attributes.get("version_table", "alembic_version"),
        render_as_batch=connection.dialect.name == "sqlite",
        target_metadata=config.attributes.get("target_metadata"),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
