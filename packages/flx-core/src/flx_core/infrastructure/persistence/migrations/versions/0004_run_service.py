"""runs as a service: who asked, attempts, idempotency keys, queues; pipelines' run policy

Revision ID: 0004_core
Revises: 0003_core
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_core"
down_revision: str | None = "0003_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch_op:
        batch_op.add_column(
            sa.Column("requested_by", sa.String(255), nullable=False, server_default="system")
        )
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("retry_of", sa.String(64)))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(255)))
        batch_op.add_column(sa.Column("scheduled_for", TS))
        batch_op.add_column(sa.Column("not_before", TS))
        batch_op.add_column(sa.Column("queue", sa.String(64)))
        batch_op.create_index("ix_executions_retry_of", ["retry_of"])
    with op.batch_alter_table("pipelines") as batch_op:
        batch_op.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("retry_delay", sa.Float(), nullable=False, server_default="60")
        )
        batch_op.add_column(
            sa.Column("on_conflict", sa.String(16), nullable=False, server_default="reject")
        )
        batch_op.add_column(sa.Column("queue", sa.String(64)))
        batch_op.add_column(
            sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC")
        )
        batch_op.add_column(
            sa.Column("catchup", sa.String(16), nullable=False, server_default="skip")
        )


def downgrade() -> None:
    with op.batch_alter_table("pipelines") as batch_op:
        for column in ("catchup", "timezone", "queue", "on_conflict", "retry_delay", "retries"):
            batch_op.drop_column(column)
    with op.batch_alter_table("executions") as batch_op:
        batch_op.drop_index("ix_executions_retry_of")
        for column in (
            "queue",
            "not_before",
            "scheduled_for",
            "idempotency_key",
            "retry_of",
            "attempt",
            "requested_by",
        ):
            batch_op.drop_column(column)
