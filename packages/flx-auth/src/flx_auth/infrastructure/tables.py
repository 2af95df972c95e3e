"""Tables owned by the auth context (their own MetaData and Alembic history)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

from flx_core.infrastructure.persistence.tables import NAMING

metadata = MetaData(naming_convention=NAMING)
TS = DateTime(timezone=True)

users = Table(
    "auth_users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(128), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", TS),
    Column("created_at", TS, nullable=False),
    Column("updated_at", TS, nullable=False),
    Column("last_login_at", TS),
    Column("version", Integer, nullable=False),
)

sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("auth_users.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(254), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_used_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("user_agent", String(512)),
    Column("address", String(128)),
    Column("revoked_at", TS),
    Column("revoked_reason", String(255)),
    Column("version", Integer, nullable=False),
    Index("ix_auth_sessions_user", "user_id", "created_at"),
)

refresh_tokens = Table(
    "auth_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "session_id",
        String(64),
        ForeignKey("auth_sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("user_id", String(64), nullable=False),
    Column("issued_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Column("access_jti", String(64), nullable=False),
    Column("access_expires_at", TS, nullable=False),
    Index("ix_auth_refresh_tokens_session", "session_id", "access_expires_at"),
    Index("ix_auth_refresh_tokens_expires", "expires_at"),
)

blacklist = Table(
    "auth_blacklist",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("expires_at", TS, nullable=False),
    Index("ix_auth_blacklist_expires", "expires_at"),
)
