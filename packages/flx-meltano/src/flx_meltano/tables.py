"""Tables owned by the engine: state versions and per-pipeline run locks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
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
