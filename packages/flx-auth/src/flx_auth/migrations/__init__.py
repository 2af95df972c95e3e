"""Alembic history of the auth tables."""

from pathlib import Path

from flx_core.infrastructure.persistence import MigrationSet

MIGRATIONS = MigrationSet(
    name="auth",
    script_location=Path(__file__).parent,
    version_table="flx_auth_alembic_version",
    depends_on=("core",),
    head="0001_auth",
)
