"""SQL expressions that the two backends spell differently (days, durations, the streams
of an execution's counts), so the aggregations run in the database on either."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Date, Float, cast, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from flx_core.infrastructure.persistence.tables import executions


def is_postgres(dialect: Any) -> bool:
    return str(getattr(dialect, "name", dialect)) == "postgresql"


def day_of(column: Any, dialect: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a stored timestamp (SQLite: stored as UTC text; PostgreSQL:
    a timestamptz read in UTC whatever the session's timezone)."""
    if is_postgres(dialect):
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def seconds_between(start: Any, end: Any, dialect: Any) -> ColumnElement[float]:
    """``end - start`` in seconds."""
    if is_postgres(dialect):
        return cast(func.extract("epoch", end - start), Float)
    # julianday is a float of days: its microseconds are noise, rounded off to the ms.
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3)


def stream_records(dialect: Any, *conditions: Any) -> Any:
    """(pipeline_name, stream, records) summed over the executions matching ``conditions``:
    the ``stream_counts`` object of each row expanded by the database itself."""
    c = executions.c
    if is_postgres(dialect):
        each = func.jsonb_each_text(cast(c.stream_counts, JSONB)).table_valued("key", "value")
    else:
        each = func.json_each(c.stream_counts).table_valued("key", "value")
    records = func.sum(cast(each.c.value, BigInteger))
    return (
        select(c.pipeline_name, each.c.key.label("stream"), records.label("records"))
        .select_from(executions)
        .join(each, text("true"))
        .where(*conditions)
        .group_by(c.pipeline_name, each.c.key)
    )
