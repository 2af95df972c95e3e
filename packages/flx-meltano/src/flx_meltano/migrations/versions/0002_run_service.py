"""runs as a service: idempotency keys, schedule fires, execution logs in the database

Revision ID: 0002_meltano
Revises: 0001_meltano
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_meltano"
down_revision: str | None = "0001_meltano"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("pipeline_id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("pipeline_id", sa.String(64), nullable=False),
        sa.Column("scheduled_for", TS, nullable=False),
        sa.Column("fired_at", TS, nullable=False),
        sa.Column("execution_id", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("scheduler", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("pipeline_id", "scheduled_for", name=op.f("pk_schedule_fires")),
    )
    op.create_table(
        "log_chunks",
        sa.Column("execution_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("execution_id", "seq", name=op.f("pk_log_chunks")),
    )


def downgrade() -> None:
    op.drop_table("log_chunks")
    op.drop_table("schedule_fires")
    op.drop_table("idempotency_keys")
