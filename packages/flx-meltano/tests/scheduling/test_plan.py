"""Which cron times a scheduler fires: the baseline of a pipeline (its last fire, or when it
was last changed) and the catch-up policy after a downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flx_core.domain import CronExpression
from flx_meltano.scheduling.plan import MAX_CATCHUP, Track
from flx_meltano.scheduling.repository import ScheduledPipeline

T0 = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)


def minute(n: int) -> datetime:
    """The n-th minute boundary after T0's minute."""
    return datetime(2024, 5, 1, 12, 0, tzinfo=UTC) + timedelta(minutes=n)


def scheduled(
    schedule: str = "* * * * *", catchup: str = "skip", updated_at: datetime = T0
) -> ScheduledPipeline:
    return ScheduledPipeline(
        id="p1",
        name="p",
        schedule=CronExpression(value=schedule),
        timezone="UTC",
        catchup=catchup,
        enabled=True,
        updated_at=updated_at,
    )


def test_a_new_pipeline_fires_nothing_before_it_was_created() -> None:
    track = Track.start(scheduled(updated_at=T0), last_fire=None)
    assert track.next_due == minute(1)  # not minute(0), which passed before T0
    assert track.due(T0 + timedelta(seconds=20)) is None
    due = track.due(minute(1) + timedelta(seconds=0.2))
    assert due is not None and due.times == [minute(1)] and not due.missed


def test_the_last_fire_is_the_baseline_when_later_than_the_change() -> None:
    track = Track.start(scheduled(updated_at=T0), last_fire=minute(5))
    assert track.next_due == minute(6)
    # A change after the last fire moves the baseline to the change.
    later = Track.start(scheduled(updated_at=minute(7) + timedelta(seconds=1)), minute(5))
    assert later.next_due == minute(8)


def test_catchup_skip_fires_the_latest_missed_time_once() -> None:
    track = Track.start(scheduled(catchup="skip"), last_fire=minute(1))
    due = track.due(minute(10) + timedelta(seconds=3))
    assert due is not None
    assert due.times == [minute(10)] and due.missed
    track.handled(minute(10) + timedelta(seconds=3))
    assert track.due(minute(10) + timedelta(seconds=40)) is None
    assert track.next_due == minute(11)


def test_catchup_all_fires_every_missed_time() -> None:
    track = Track.start(scheduled(catchup="all"), last_fire=minute(1))
    due = track.due(minute(10) + timedelta(seconds=3))
    assert due is not None
    assert due.times == [minute(n) for n in range(2, 11)] and not due.missed


def test_catchup_all_is_capped_to_the_latest_times() -> None:
    track = Track.start(scheduled(catchup="all"), last_fire=minute(0))
    now = minute(500) + timedelta(seconds=1)
    due = track.due(now)
    assert due is not None and due.missed
    assert len(due.times) == MAX_CATCHUP
    assert due.times[0] == minute(500 - MAX_CATCHUP + 1) and due.times[-1] == minute(500)


def test_nothing_is_due_before_the_next_time() -> None:
    track = Track.start(scheduled("0 * * * *"), last_fire=None)
    assert track.next_due == datetime(2024, 5, 1, 13, tzinfo=UTC)
    assert track.due(datetime(2024, 5, 1, 12, 59, 59, tzinfo=UTC)) is None


def test_handled_moves_only_forward() -> None:
    track = Track.start(scheduled(), last_fire=minute(3))
    track.handled(minute(2))
    assert track.cursor == minute(3) and track.next_due == minute(4)


def test_a_changed_schedule_is_seen_as_changed() -> None:
    track = Track.start(scheduled(), last_fire=None)
    assert track.same_schedule(scheduled())
    assert not track.same_schedule(scheduled(schedule="*/5 * * * *"))
    assert not track.same_schedule(scheduled(updated_at=T0 + timedelta(seconds=1)))
