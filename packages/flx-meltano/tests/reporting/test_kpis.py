"""GetPipelineKpis over a history written straight into the executions table, read back
on SQLite and PostgreSQL at a time the test chooses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flx_core.domain import Principal
from flx_meltano import GetPipelineKpis, KpiReport

SYSTEM = Principal.system()
#: "Now" of the tests (the ``reporting`` fixture's): a Wednesday, 12:30 UTC.
NOW = datetime(2024, 5, 15, 12, 30, tzinfo=UTC)


async def kpis(app: Any, name: str | None = None) -> KpiReport:
    app.test_clock.current = NOW
    result = await app.execute(GetPipelineKpis(pipeline=name), principal=SYSTEM)
    assert result.ok, result.message
    report: KpiReport = result.value
    return report


async def test_rates_freshness_records_per_day_and_active_runs(reporting: Any) -> None:
    hourly = await reporting.pipeline("hourly", schedule="0 * * * *")
    manual = await reporting.pipeline("manual")
    await reporting.history(
        hourly,
        [
            (timedelta(days=8), "failed", 0),  # outside both windows
            (timedelta(days=3), "succeeded", 100),
            (timedelta(days=2), "failed", 0),
            (timedelta(hours=5), "succeeded", 40),
            (timedelta(hours=2), "cancelled", 0),  # not rated
            (timedelta(minutes=30), "failed", 5),
            (timedelta(minutes=1), "running", 0),
        ],
    )
    await reporting.history(manual, [(timedelta(minutes=10), "queued", 0)])

    report = await kpis(reporting.app)
    assert report.generated_at == NOW
    assert [k.pipeline for k in report.pipelines] == ["hourly", "manual"]
    h, m = report.pipelines
    assert (h.runs_24h, h.succeeded_24h, h.success_rate_24h) == (2, 1, 0.5)
    assert (h.runs_7d, h.succeeded_7d, h.success_rate_7d) == (4, 2, 0.5)
    assert h.last_status == "running"
    assert h.last_run_at == NOW - timedelta(minutes=1)
    # The last success ended a minute after it began, 5 hours ago.
    assert h.last_success_at == NOW - timedelta(hours=5) + timedelta(minutes=1)
    assert h.freshness_seconds == 5 * 3600 - 60
    assert h.expected_interval_seconds == 3600
    assert h.next_run_at == datetime(2024, 5, 15, 13, 0, tzinfo=UTC)
    # 12:00 is half an hour (the grace of an hourly schedule) ago, and nothing has
    # succeeded since 07:31.
    assert h.overdue is True

    assert (m.runs_24h, m.success_rate_24h, m.success_rate_7d) == (0, None, None)
    assert m.last_status == "queued" and m.last_success_at is None
    assert (m.freshness_seconds, m.expected_interval_seconds, m.overdue) == (None, None, False)
    assert m.next_run_at is None

    assert (report.running, report.queued) == (1, 1)
    days = report.records_per_day
    assert len(days) == 14
    assert days[-1].day == date(2024, 5, 15) and days[0].day == date(2024, 5, 2)
    by_day = {d.day: d.records for d in days}
    assert by_day[date(2024, 5, 12)] == 100
    assert by_day[date(2024, 5, 15)] == 45
    assert sum(by_day.values()) == 145  # the 8-day-old run is outside, days are zeros


async def test_a_fresh_success_is_not_overdue_and_one_pipeline_can_be_asked(reporting: Any) -> None:
    daily = await reporting.pipeline("daily", schedule="0 6 * * *")
    await reporting.history(daily, [(timedelta(hours=6, minutes=30), "succeeded", 7)])
    report = await kpis(reporting.app, "daily")
    [k] = report.pipelines
    assert k.overdue is False and k.expected_interval_seconds == 86400
    assert k.next_run_at == datetime(2024, 5, 16, 6, 0, tzinfo=UTC)
    assert k.success_rate_24h == 1.0
    assert sum(d.records for d in report.records_per_day) == 7


async def test_weekday_schedule_is_not_overdue_over_the_weekend(reporting: Any) -> None:
    weekdays = await reporting.pipeline("weekdays", schedule="0 9 * * 1-5")
    # Friday 2024-05-10 09:00 ran and succeeded; now is Sunday noon.
    await reporting.history(weekdays, [(timedelta(days=5, hours=3, minutes=30), "succeeded", 1)])
    sunday = datetime(2024, 5, 12, 12, 0, tzinfo=UTC)
    reporting.app.test_clock.current = sunday
    report = (await reporting.app.execute(GetPipelineKpis(), principal=SYSTEM)).value
    [k] = report.pipelines
    assert k.last_success_at is not None and k.last_success_at < sunday
    assert k.overdue is False
    assert k.next_run_at == datetime(2024, 5, 13, 9, 0, tzinfo=UTC)


async def test_a_disabled_pipeline_is_never_overdue_and_an_unknown_one_is_not_found(
    reporting: Any,
) -> None:
    await reporting.pipeline("off", schedule="* * * * *", enabled=False)
    [k] = (await kpis(reporting.app)).pipelines
    assert (k.enabled, k.overdue, k.next_run_at) == (False, False, None)
    reporting.app.test_clock.current = NOW
    result = await reporting.app.execute(GetPipelineKpis(pipeline="nope"), principal=SYSTEM)
    assert not result.ok and result.error_code == "not_found"
