"""The reads behind the business metrics: totals over the whole run history, aggregated by
the database in a pass per question (executions by pipeline and status with their
durations, records per stream, failed logins), and per pipeline the few rows that tell how
many runs failed in a row."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.infrastructure.persistence.tables import events, executions
from flx_meltano.reporting.sql import seconds_between, stream_records
from flx_observability import DURATION_BUCKETS, ExecutionTotals, StreamTotals

ENDED = ("succeeded", "failed", "cancelled")
#: How far back the failures in a row are counted.
STREAK_LIMIT = 100


def _created(since: datetime | None, before: datetime | None) -> list[Any]:
    c = executions.c
    found = []
    if since is not None:
        found.append(c.created_at >= since.astimezone(UTC))
    if before is not None:
        found.append(c.created_at < before.astimezone(UTC))
    return found


class PipelineSums:
    __slots__ = ("bytes", "queued", "records", "running", "state_commits")

    def __init__(self) -> None:
        self.records = self.bytes = self.state_commits = self.running = self.queued = 0


class _Ended:
    """The ended executions of one (pipeline, status), gathered bucket by bucket."""

    def __init__(self) -> None:
        self.count = 0
        self.per_bucket = [0] * (len(DURATION_BUCKETS) + 1)  # the last one: over them all
        self.took = 0.0

    def add(self, bucket: int, n: int, took: float) -> None:
        self.count += n
        if bucket >= 0:  # -1: never started, no duration
            self.per_bucket[bucket] += n
            self.took += took

    def totals(self, pipeline: str, status: str) -> ExecutionTotals:
        cumulative, running = [], 0
        for n in self.per_bucket[:-1]:
            running += n
            cumulative.append(running)
        return ExecutionTotals(
            pipeline=pipeline,
            status=status,
            count=self.count,
            duration_buckets=tuple(cumulative),
            timed=sum(self.per_bucket),
            duration_sum=self.took,
        )


class TotalsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @property
    def dialect(self) -> Any:
        return self.session.get_bind().dialect

    async def executions(
        self, since: datetime | None = None, before: datetime | None = None
    ) -> tuple[list[ExecutionTotals], dict[str, PipelineSums]]:
        """Ended executions by (pipeline, status) with their duration histogram, and the
        sums of every execution (running ones included) by pipeline, of those created in
        [``since``, ``before``): one pass (over that range of the creation time index)."""
        e = executions.c
        # The duration once per row (a subquery), its bucket's index once: a single CASE
        # per row rather than a sum per bucket.
        rows = (
            select(
                e.pipeline_name,
                e.status,
                e.records,
                e.bytes,
                e.state_commits,
                seconds_between(e.started_at, e.finished_at, self.dialect).label("took"),
            )
            .where(*_created(since, before))
            .subquery()
        )
        took = rows.c.took
        bucket = case(
            (took.is_(None), -1),
            *((took <= bound, i) for i, bound in enumerate(DURATION_BUCKETS)),
            else_=len(DURATION_BUCKETS),
        ).label("bucket")
        query = select(
            rows.c.pipeline_name,
            rows.c.status,
            bucket,
            func.count().label("n"),
            func.sum(rows.c.records).label("records"),
            func.sum(rows.c.bytes).label("bytes"),
            func.sum(rows.c.state_commits).label("state_commits"),
            func.sum(took).label("took"),
        ).group_by(rows.c.pipeline_name, rows.c.status, bucket)
        ended: dict[tuple[str, str], _Ended] = {}
        sums: dict[str, PipelineSums] = defaultdict(PipelineSums)
        for r in (await self.session.execute(query)).all():
            s = sums[r.pipeline_name]
            s.records += int(r.records or 0)
            s.bytes += int(r.bytes or 0)
            s.state_commits += int(r.state_commits or 0)
            if r.status == "running":
                s.running += int(r.n)
            elif r.status in ("pending", "queued"):
                s.queued += int(r.n)
            elif r.status in ENDED:
                ended.setdefault((r.pipeline_name, r.status), _Ended()).add(
                    int(r.bucket), int(r.n), float(r.took or 0.0)
                )
        totals = [e.totals(pipeline, status) for (pipeline, status), e in ended.items()]
        return totals, dict(sums)

    async def streams(
        self, since: datetime | None = None, before: datetime | None = None
    ) -> list[StreamTotals]:
        """Records per (pipeline, stream) of the executions created in [since, before)."""
        query = stream_records(self.dialect, *_created(since, before))
        return [
            StreamTotals(pipeline=r.pipeline_name, stream=str(r.stream), records=int(r.records))
            for r in (await self.session.execute(query)).all()
        ]

    async def failures_in_a_row(self, pipeline_id: str) -> int:
        """Failed executions since the pipeline's last success (cancelled ones skipped)."""
        e = executions.c
        query = (
            select(e.status)
            .where(e.pipeline_id == pipeline_id, e.status.in_(("succeeded", "failed")))
            .order_by(e.created_at.desc())
            .limit(STREAK_LIMIT)
        )
        streak = 0
        for status in (await self.session.execute(query)).scalars():
            if status != "failed":
                break
            streak += 1
        return streak

    async def oldest_waiting(self) -> datetime | None:
        return await self._oldest(("pending", "queued"))

    async def oldest_active(self) -> datetime | None:
        """Creation time of the oldest execution that has not ended."""
        return await self._oldest(("pending", "queued", "running"))

    async def _oldest(self, statuses: tuple[str, ...]) -> datetime | None:
        e = executions.c
        query = select(func.min(e.created_at)).where(e.status.in_(statuses))
        value: datetime | None = (await self.session.execute(query)).scalar()
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    async def logins(self) -> tuple[dict[str, int], int]:
        """(failed logins by reason, lockouts) from the audit trail."""
        ev = events.c
        reason = ev.payload["reason"].as_string()
        failed = (
            select(reason.label("reason"), func.count().label("n"))
            .where(ev.event_type == "LoginFailed")
            .group_by(reason)
        )
        by_reason = {
            str(r.reason or "unknown"): int(r.n) for r in (await self.session.execute(failed)).all()
        }
        locked = select(func.count()).where(ev.event_type == "AccountLocked")
        return by_reason, int((await self.session.execute(locked)).scalar() or 0)
