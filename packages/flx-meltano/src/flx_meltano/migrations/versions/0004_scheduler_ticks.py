"""scheduler ticks: when each scheduler last went round, for liveness checks

Revision ID: 0004_meltano
Revises: 0003_meltano
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_meltano"
down_revision: str | None = "0003_meltano"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_ticks",
        sa.Column("scheduler", sa.String(255), nullable=False),
        sa.Column("ticked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scheduler", name=op.f("pk_scheduler_ticks")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_ticks")
