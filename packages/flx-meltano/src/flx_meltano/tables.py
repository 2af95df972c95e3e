"""Tables owned by the engine: state versions, run locks, idempotency keys, schedule fires
and execution logs."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from flx_core.infrastructure.persistence.tables import NAMING

metadata = MetaData(naming_convention=NAMING)
TS = DateTime(timezone=True)

state_versions = Table(
    "state_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state_id", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("value", JSON, nullable=False),
    Column("partial", Boolean, nullable=False),
    Column("execution_id", String(64)),
    Column("note", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("state_id", "version", name="uq_state_versions_state_id_version"),
    Index("ix_state_versions_state_id", "state_id", "version"),
)

run_locks = Table(
    "run_locks",
    metadata,
    Column("pipeline_id", String(64), primary_key=True),
    Column("execution_id", String(64), nullable=False),
    Column("acquired_at", TS, nullable=False),
)

#: A run request's idempotency key and the execution it created (kept 24 hours).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("pipeline_id", String(64), nullable=False),
    Column("execution_id", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
)

#: One row per (pipeline, cron time) fired: the primary key is what makes several
#: schedulers fire each time once.
schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("pipeline_id", String(64), primary_key=True),
    Column("scheduled_for", TS, primary_key=True),
    Column("fired_at", TS, nullable=False),
    Column("execution_id", String(64)),
    Column("outcome", String(16), nullable=False),
    Column("note", Text, nullable=False),
    Column("scheduler", String(255), nullable=False),
)

#: When each scheduler (host:pid) last went round: read by the liveness checks of every
#: process (`flx doctor`), written at most every ``TICK_RECORD_SECONDS`` by each scheduler.
scheduler_ticks = Table(
    "scheduler_ticks",
    metadata,
    Column("scheduler", String(255), primary_key=True),
    Column("ticked_at", TS, nullable=False),
)

#: Execution logs in the database: the bytes of the log, in order, in chunks.
log_chunks = Table(
    "log_chunks",
    metadata,
    Column("execution_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("offset", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", TS, nullable=False),
)
