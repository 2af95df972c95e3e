"""Tables of the core aggregates and the audit trail."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
TS = DateTime(timezone=True)

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("extractor", String(64), nullable=False),
    Column("mappers", JSON, nullable=False),
    Column("loader", String(64), nullable=False),
    Column("config", JSON, nullable=False),
    Column("select_rules", JSON, nullable=False),
    Column("stream_metadata", JSON, nullable=False),
    Column("schedule", String(128)),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("tags", JSON, nullable=False),
    Column("state_id", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Index("ix_pipelines_extractor", "extractor"),
    Index("ix_pipelines_loader", "loader"),
)

plugins = Table(
    "plugins",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("plugin_type", String(16), nullable=False, index=True),
    Column("variant", String(128)),
    Column("pip_url", Text),
    Column("namespace", String(128), nullable=False),
    Column("executable", Text),
    Column("settings", JSON, nullable=False),
    Column("config", JSON, nullable=False),
    Column("capabilities", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("pipeline_id", String(64), nullable=False),
    Column("pipeline_name", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("full_refresh", Boolean, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("started_at", TS),
    Column("finished_at", TS),
    Column("heartbeat_at", TS),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("exit_codes", JSON, nullable=False),
    Column("stream_counts", JSON, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("state_commits", Integer, nullable=False),
    Column("error", Text),
    Column("log_path", Text),
    Column("cancel_requested", Boolean, nullable=False),
    Column("details", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_executions_pipeline_created", "pipeline_id", "created_at"),
    Index("ix_executions_status", "status"),
    Index("ix_executions_created", "created_at", "id"),
)

events = Table(
    "events",
    metadata,
    Column("position", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(128), nullable=False),
    Column("aggregate_id", String(64), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("occurred_at", TS, nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_events_aggregate", "aggregate_id", "position"),
    Index("ix_events_type", "event_type", "occurred_at"),
    Index("ix_events_actor", "actor", "occurred_at"),
    Index("ix_events_occurred", "occurred_at"),
)
