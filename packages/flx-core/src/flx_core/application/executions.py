"""Execution queries (the engine writes executions), the audit trail query, and the event
feed that live streams follow."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from flx_core.application.context import HandlerContext
from flx_core.application.messages import Query
from flx_core.application.pipelines import module
from flx_core.domain.errors import NotFound, ValidationFailed
from flx_core.domain.execution import PipelineExecution
from flx_core.domain.ports import EventFilter, ExecutionFilter, Page, StoredEvent
from flx_core.domain.pydantic_base import DomainValueObject, ServiceResult
from flx_core.domain.security import Permission, Principal


class GetExecution(Query):
    permission = Permission.EXECUTION_READ

    execution_id: str


class ListExecutions(Query):
    permission = Permission.EXECUTION_READ

    filter: ExecutionFilter = Field(default_factory=ExecutionFilter)
    #: A pipeline's id or name: the runs of the pipeline with that id, else of those named so
    #: (a deleted pipeline's runs keep its name).
    pipeline: str | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class ListAuditEvents(Query):
    permission = Permission.AUDIT_READ

    filter: EventFilter = Field(default_factory=EventFilter)
    limit: int = Field(default=100, ge=1, le=1000)


#: The shortest prefix of an execution id that commands accept (ids have 32 characters).
MIN_ID_PREFIX = 6
SHORT_ID = 12


async def find_execution(ctx: HandlerContext, execution_id: str) -> PipelineExecution:
    """The execution with this id, or with this unique prefix of its id (at least
    ``MIN_ID_PREFIX`` characters, as git accepts short commit ids)."""
    ref = execution_id.strip().lower()
    execution = await ctx.uow.executions.get(ref) if ref else None
    if execution is None:
        if len(ref) < MIN_ID_PREFIX:
            raise NotFound(
                f"execution {execution_id!r} not found (a short id needs at least "
                f"{MIN_ID_PREFIX} characters)",
                execution=execution_id,
            )
        matches = await _with_prefix(ctx, ref)
        if len(matches) > 1:
            shown = ", ".join(m.id[: max(SHORT_ID, len(ref) + 2)] for m in matches[:5])
            raise ValidationFailed(
                f"execution id {execution_id!r} is ambiguous: {len(matches)} executions "
                f"start with it ({shown}{', ...' if len(matches) > 5 else ''}); "
                "give more characters",
                execution=execution_id,
                matches=[m.id for m in matches],
            )
        if not matches:
            raise NotFound(f"execution {execution_id!r} not found", execution=execution_id)
        execution = matches[0]
    ctx.uow.track(execution)
    return execution


async def _with_prefix(ctx: HandlerContext, prefix: str) -> list[PipelineExecution]:
    """Every execution whose id starts with ``prefix`` (all pages, newest first)."""
    found: list[PipelineExecution] = []
    cursor: str | None = None
    while True:
        page = await ctx.uow.executions.list(ExecutionFilter(), limit=500, cursor=cursor)
        found.extend(e for e in page.items if e.id.startswith(prefix))
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


@module.query(GetExecution)
async def get_execution(qry: GetExecution, ctx: HandlerContext) -> ServiceResult[PipelineExecution]:
    return ServiceResult.success(await find_execution(ctx, qry.execution_id))


def _utc(value: datetime | None) -> datetime | None:
    """Times compared in the database are UTC (SQLite compares them as text)."""
    return value.astimezone(UTC) if value is not None and value.tzinfo else value


@module.query(ListExecutions)
async def list_executions(
    qry: ListExecutions, ctx: HandlerContext
) -> ServiceResult[Page[PipelineExecution]]:
    changes: dict[str, Any] = {"since": _utc(qry.filter.since), "until": _utc(qry.filter.until)}
    if qry.pipeline:
        pipeline = await ctx.uow.pipelines.get(qry.pipeline)
        if pipeline is not None:
            changes["pipeline_id"] = pipeline.id
        else:
            changes["pipeline_name"] = qry.pipeline
    flt = qry.filter.model_copy(update=changes)
    return ServiceResult.success(
        await ctx.uow.executions.list(flt, limit=qry.limit, cursor=qry.cursor)
    )


@module.query(ListAuditEvents)
async def list_audit_events(
    qry: ListAuditEvents, ctx: HandlerContext
) -> ServiceResult[list[StoredEvent]]:
    flt = qry.filter.model_copy(
        update={"since": _utc(qry.filter.since), "until": _utc(qry.filter.until)}
    )
    return ServiceResult.success(await ctx.uow.events.list(flt, limit=qry.limit))


# -- the event feed ----------------------------------------------------------------------
#: What reading an event needs, by the start of its type: the permission that reads the
#: aggregate it is about. A type named by none needs audit:read (the safe default for a new
#: kind of event); audit:read reads every event, as the audit trail does.
READ_PERMISSION_BY_PREFIX: tuple[tuple[tuple[str, ...], Permission], ...] = (
    (("Pipeline",), Permission.PIPELINE_READ),
    (("Execution",), Permission.EXECUTION_READ),
    (("Plugin",), Permission.PLUGIN_READ),
    (
        (
            "User",
            "Login",
            "LoggedOut",
            "Session",
            "PasswordReset",
            "AccountLocked",
            "RefreshToken",
        ),
        Permission.USER_READ,
    ),
)


def read_permission(event_type: str) -> Permission:
    """The permission that reading an event of this type needs."""
    for prefixes, permission in READ_PERMISSION_BY_PREFIX:
        if event_type.startswith(prefixes):
            return permission
    return Permission.AUDIT_READ


def may_read(principal: Principal, event_type: str) -> bool:
    return principal.can(Permission.AUDIT_READ) or principal.can(read_permission(event_type))


class ReadEventFeed(Query):
    """The events recorded after position ``after`` that the caller may read, oldest first;
    with ``after`` None, none, and the position of the newest event (to follow from now).

    Each event is checked against the permission its type needs (``read_permission``), so
    the query itself needs none: a caller holding no read permission reads nothing.
    """

    permission = None

    after: int | None = Field(default=None, ge=0)
    limit: int = Field(default=500, ge=1, le=1000)
    #: Positions up to this one that are still missing are given up for good (a follower
    #: passes a gap it waited long enough for: its transaction rolled back).
    skip_missing_through: int | None = None


class EventFeed(DomainValueObject):
    """An answer of ``ReadEventFeed``."""

    events: list[StoredEvent]
    #: Read up to here, hidden events included: ask again after it.
    position: int
    #: The first position not visible while later ones are (a transaction that took it has
    #: not committed, or rolled back); the feed stops before it.
    missing: int | None = None
    #: Whether more events wait after ``position`` (the answer was full).
    more: bool = False


@module.query(ReadEventFeed)
async def read_event_feed(qry: ReadEventFeed, ctx: HandlerContext) -> ServiceResult[EventFeed]:
    if qry.after is None:
        newest = await ctx.uow.events.list(EventFilter(), limit=1)
        return ServiceResult.success(
            EventFeed(events=[], position=newest[0].position if newest else 0)
        )
    rows = await ctx.uow.events.list(EventFilter(after=qry.after), limit=qry.limit)
    position, missing, events = qry.after, None, []
    skippable = qry.skip_missing_through if qry.skip_missing_through is not None else -1
    for row in rows:
        if row.position > position + 1 and position + 1 > skippable:
            missing = position + 1
            break
        position = row.position
        if may_read(ctx.principal, row.event_type):
            events.append(row)
    more = missing is None and len(rows) == qry.limit
    return ServiceResult.success(
        EventFeed(events=events, position=position, missing=missing, more=more)
    )


#: How long a follower waits for a missing position before it gives it up.
MISSING_GRACE_SECONDS = 5.0


class EventFollower:
    """Follows the event table for one caller, one short ``ReadEventFeed`` per poll (no
    transaction stays open between polls).

    Positions come from a sequence: on PostgreSQL a transaction takes its positions when it
    appends and shows them when it commits, so a later position can be seen before an
    earlier one. The feed stops before such a gap, so nothing is passed over; the follower
    asks again, and gives the gap up once it stayed open ``missing_grace`` seconds (a
    transaction that rolled back leaves its positions unused for good).
    """

    def __init__(
        self,
        send: Callable[[ReadEventFeed], Awaitable[EventFeed]],
        after: int | None,
        *,
        missing_grace: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._grace = MISSING_GRACE_SECONDS if missing_grace is None else missing_grace
        self._clock = clock
        self._gap: tuple[int, float] | None = None
        #: The position read up to (None before the first poll when following from now).
        self.position = after
        #: False when the last poll left events to read at once.
        self.caught_up = True

    async def poll(self) -> list[StoredEvent]:
        """The next events the caller may read (often none)."""
        skip = None
        if self._gap is not None and self._clock() - self._gap[1] >= self._grace:
            skip = self._gap[0]
        feed = await self._send(ReadEventFeed(after=self.position, skip_missing_through=skip))
        self.position = feed.position
        self.caught_up = not feed.more
        if feed.missing is None:
            self._gap = None
        elif self._gap is None or self._gap[0] != feed.missing:
            self._gap = (feed.missing, self._clock())
        return feed.events
