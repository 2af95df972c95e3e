"""Alembic history of the engine's tables."""

from pathlib import Path

from flx_core.infrastructure.persistence import MigrationSet

MIGRATIONS = MigrationSet(
    name="meltano",
    script_location=Path(__file__).parent,
    version_table="flx_meltano_alembic_version",
    depends_on=("core",),
    head="0004_meltano",
)
