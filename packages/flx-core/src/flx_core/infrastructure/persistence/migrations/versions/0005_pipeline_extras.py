"""pipelines: Meltano's extractor extras (schema overrides, catalog and state files, load
schema, select filter)

Revision ID: 0005_core
Revises: 0004_core
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_core"
down_revision: str | None = "0004_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("select_filter", "load_schema", "state_path", "catalog_path", "schema_overrides")


def upgrade() -> None:
    with op.batch_alter_table("pipelines") as batch_op:
        batch_op.add_column(
            sa.Column("schema_overrides", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.add_column(sa.Column("catalog_path", sa.Text()))
        batch_op.add_column(sa.Column("state_path", sa.Text()))
        batch_op.add_column(sa.Column("load_schema", sa.String(255)))
        batch_op.add_column(
            sa.Column("select_filter", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch_op:
        for column in COLUMNS:
            batch_op.drop_column(column)
