"""Alembic environment: the shared FLX migration runner."""

from flx_core.infrastructure.persistence.migration_env import run

run()
