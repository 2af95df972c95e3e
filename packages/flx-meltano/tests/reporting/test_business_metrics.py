"""ReadBusinessMetrics over a history written straight into the tables, on SQLite and
PostgreSQL: totals by pipeline and status, durations in their buckets, records per stream
(the stream counts expanded by the database), failures in a row, logins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flx_core.domain import Principal
from flx_core.domain.events import DomainEvent
from flx_core.domain.ports import ExecutionFilter
from flx_meltano import ReadBusinessMetrics
from flx_observability.metrics_snapshot import DURATION_BUCKETS, BusinessSnapshot

#: "Now" of the tests (the ``reporting`` fixture's).
NOW = datetime(2024, 5, 15, 12, 30, tzinfo=UTC)


async def read(app: Any) -> BusinessSnapshot:
    return await read_at(app, NOW)


async def read_at(app: Any, now: datetime) -> BusinessSnapshot:
    app.test_clock.current = now
    result = await app.execute(ReadBusinessMetrics(), principal=Principal.system("metrics"))
    assert result.ok, result.message
    snapshot: BusinessSnapshot = result.value
    return snapshot


async def test_totals_durations_streams_and_streaks(reporting: Any) -> None:
    a = await reporting.pipeline("a", schedule="0 * * * *")
    b = await reporting.pipeline("b")
    await reporting.history(
        a,
        [
            (timedelta(days=20), "succeeded", 10),
            (timedelta(days=3), "succeeded", 20),
            (timedelta(hours=3), "failed", 1),
            (timedelta(hours=2), "cancelled", 0),
            (timedelta(hours=1), "failed", 2),
            (timedelta(minutes=5), "running", 4),
        ],
    )
    await reporting.history(
        b, [(timedelta(minutes=30), "succeeded", 7), (timedelta(minutes=1), "queued", 0)]
    )

    s = await read(reporting.app)
    totals = {(e.pipeline, e.status): e for e in s.executions}
    assert {k: e.count for k, e in totals.items()} == {
        ("a", "succeeded"): 2,
        ("a", "failed"): 2,
        ("a", "cancelled"): 1,
        ("b", "succeeded"): 1,
    }
    # Each run of the history lasted one minute: in every bucket from 60 s on.
    ok = totals[("a", "succeeded")]
    assert ok.timed == 2 and ok.duration_sum == 120.0
    assert ok.duration_buckets == tuple(2 if bound >= 60 else 0 for bound in DURATION_BUCKETS)
    streams = {(st.pipeline, st.stream): st.records for st in s.streams}
    assert streams == {("a", "s"): 37, ("b", "s"): 7}
    by_name = {p.pipeline: p for p in s.pipelines}
    pa, pb = by_name["a"], by_name["b"]
    assert (pa.records, pa.running, pa.queued) == (37, 1, 0)
    assert (pb.records, pb.running, pb.queued) == (7, 0, 1)
    assert pa.consecutive_failures == 2  # the cancelled one between them does not break it
    assert pb.consecutive_failures == 0
    assert pa.success_rate_7d == 1 / 3 and pa.success_rate_24h == 0.0
    assert pa.overdue is True and pa.expected_interval_seconds == 3600
    assert pb.freshness_seconds == 29 * 60
    assert pb.last_success_timestamp == (NOW - timedelta(minutes=29)).timestamp()
    assert s.oldest_queued_seconds == 60.0
    # The running one never beat; the queued one is not older than the heartbeat timeout.
    assert (s.unattended_running, s.unattended_queued) == (1, 0)
    assert s.scheduler_last_tick is None


async def test_failed_logins_and_lockouts_come_from_the_audit_trail(reporting: Any) -> None:
    class LoginFailed(DomainEvent):
        email: str
        reason: str

    class AccountLocked(DomainEvent):
        email: str

    async with reporting.app.uow_factory() as uow:
        await uow.events.append(
            [
                LoginFailed(aggregate_id="u1", email="x@example.com", reason="bad_credentials"),
                LoginFailed(aggregate_id="u1", email="x@example.com", reason="bad_credentials"),
                LoginFailed(aggregate_id="u1", email="x@example.com", reason="account_locked"),
                AccountLocked(aggregate_id="u1", email="x@example.com"),
            ],
            actor="x@example.com",
        )
        await uow.commit()
    s = await read(reporting.app)
    assert s.login_failures == {"bad_credentials": 2, "account_locked": 1}
    assert s.lockouts == 1


async def test_totals_stay_exact_as_the_settled_line_moves(reporting: Any) -> None:
    """Reads at later times, with runs ending in between: the history read once and moved
    forward gives the counts a full read gives."""
    p = await reporting.pipeline("p")
    await reporting.history(
        p,
        [
            (timedelta(days=2), "succeeded", 5),
            (timedelta(hours=1), "running", 3),  # holds the line behind it
            (timedelta(minutes=2), "succeeded", 4),
        ],
    )
    first = await read(reporting.app)
    async with reporting.app.uow_factory() as uow:  # the running one ends
        [running] = [
            e
            for e in (await uow.executions.list(ExecutionFilter(), limit=10)).items
            if e.status.value == "running"
        ]
        running.record_progress({"s": 6})
        running.succeed(now=NOW)
        await uow.executions.save(running)
        await uow.commit()
    await reporting.history(p, [(timedelta(minutes=1), "failed", 1)])
    second = await read(reporting.app)
    third = await read_at(reporting.app, NOW + timedelta(days=1))

    def counts(s: BusinessSnapshot) -> dict[tuple[str, str], int]:
        return {(e.pipeline, e.status): e.count for e in s.executions}

    def streams(s: BusinessSnapshot) -> dict[tuple[str, str], int]:
        return {(st.pipeline, st.stream): st.records for st in s.streams}

    assert counts(first) == {("p", "succeeded"): 2}
    assert streams(first) == {("p", "s"): 12}
    assert counts(second) == counts(third) == {("p", "succeeded"): 3, ("p", "failed"): 1}
    assert streams(second) == streams(third) == {("p", "s"): 5 + 6 + 4 + 1}
    assert [t.records for t in third.pipelines] == [16]


async def test_the_last_scheduler_tick_comes_from_the_database(reporting: Any) -> None:
    from flx_meltano.scheduling.repository import ScheduleFireRepository

    async with reporting.app.uow_factory() as uow:
        repo = uow.get(ScheduleFireRepository)
        await repo.record_tick("host-a:1", NOW - timedelta(seconds=30))
        await repo.record_tick("host-b:2", NOW - timedelta(seconds=5))
        await uow.commit()
    s = await read(reporting.app)
    assert s.scheduler_last_tick == (NOW - timedelta(seconds=5)).timestamp()
