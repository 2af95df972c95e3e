"""FireSchedule: a (pipeline, cron time) is fired once, whoever sends it and however many
send it at once; what came of it is recorded on its one row."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from flx_core.application import UpdatePipeline
from flx_core.domain import ExecutionStatus
from flx_meltano import FireSchedule, ListSchedules

World = Any  # the `world` fixture (conftest.py)


async def test_a_fire_queues_one_scheduled_execution(world: World) -> None:
    p = await world.pipeline()
    world.clock.current = world.minute(1, 0.5)
    fire = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(1)))
    assert fire.outcome == "queued" and fire.execution_id
    assert fire.lag == 0.5
    [execution] = await world.executions()
    assert execution.id == fire.execution_id
    assert execution.trigger == "schedule"
    assert execution.requested_by == "scheduler"
    assert execution.scheduled_for == world.minute(1)
    assert execution.status is ExecutionStatus.QUEUED
    [(_, executor)] = world.processes
    assert [r.execution_id for r in executor.submitted] == [execution.id]


async def test_the_same_time_fires_once_when_schedulers_race(world: World) -> None:
    """Schedulers in several processes (each its own connections) send the same fire at
    the same moment, several times each: one is queued, every other one is refused."""
    p = await world.pipeline()
    processes = [await world.process() for _ in range(3)]
    world.clock.current = world.minute(1, 0.2)
    command = FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(1))
    results = await asyncio.gather(
        *(rt.app.execute(command, principal=world.system) for rt, _ in processes for _ in range(4))
    )
    assert [r.ok for r in results].count(True) == 1
    assert {r.error_code for r in results if not r.ok} == {"already_fired"}
    [execution] = await world.executions()
    assert [f.execution_id for f in await world.fires(p.id)] == [execution.id]
    assert sum(len(executor.submitted) for _, executor in world.processes) == 1


async def test_a_time_that_comes_while_a_run_is_active_is_skipped(world: World) -> None:
    p = await world.pipeline()
    world.clock.current = world.minute(1, 0.1)
    first = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(1)))
    world.clock.current = world.minute(2, 0.1)
    second = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(2)))
    assert second.outcome == "skipped" and second.execution_id is None
    assert first.execution_id in second.note
    # One row per time, and no execution for the skipped one.
    assert [(f.scheduled_for, f.outcome) for f in await world.fires(p.id)] == [
        (world.minute(1), "queued"),
        (world.minute(2), "skipped"),
    ]
    assert [e.id for e in await world.executions()] == [first.execution_id]


async def test_a_run_that_cannot_be_requested_is_recorded_as_failed(world: World) -> None:
    p = await world.pipeline()
    async with world.app.uow_factory() as uow:  # gone behind the rules' back
        await uow.plugins.delete(await uow.plugins.get_by_name("tap-noop"))
        await uow.commit()
    world.clock.current = world.minute(1, 0.1)
    fire = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(1)))
    assert fire.outcome == "failed" and fire.execution_id is None
    assert "'tap-noop', which is not a known plugin" in fire.note
    [(outcome, note)] = [(f.outcome, f.note) for f in await world.fires(p.id)]
    assert (outcome, note) == ("failed", fire.note)
    assert await world.executions() == []


async def test_a_pipeline_that_queues_runs_queues_each_time(world: World) -> None:
    p = await world.pipeline(on_conflict="queue")
    for n in (1, 2, 3):
        world.clock.current = world.minute(n, 0.1)
        fire = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=world.minute(n)))
        assert fire.outcome == "queued"
    executions = await world.executions()
    assert sorted(e.scheduled_for for e in executions) == [
        world.minute(1),
        world.minute(2),
        world.minute(3),
    ]


async def test_times_the_schedule_does_not_fire_are_refused(world: World) -> None:
    p = await world.pipeline(schedule="*/5 * * * *", timezone="Europe/Paris")
    world.clock.current = world.minute(10, 1)
    app = world.app

    async def refused(when: object) -> str:
        result = await app.execute(
            FireSchedule(pipeline_id=p.id, scheduled_for=when), principal=world.system
        )
        assert not result.ok
        return str(result.message)

    assert "is not a time of pipeline 'p'" in await refused(world.minute(3))
    assert "has not come yet" in await refused(world.minute(15))
    await world.execute(UpdatePipeline(pipeline=p.name, changes={"enabled": False}))
    assert "is disabled" in await refused(world.minute(10))
    await world.execute(UpdatePipeline(pipeline=p.name, changes={"enabled": True, "schedule": ""}))
    assert "has no schedule" in await refused(world.minute(10))
    assert await world.fires(p.id) == [] and await world.executions() == []


async def test_listing_shows_next_times_and_the_last_fire(world: World) -> None:
    p = await world.pipeline(schedule="0 9 * * *", timezone="America/New_York")
    await world.pipeline("off", schedule="@hourly", enabled=False)
    await world.pipeline("manual", schedule=None)
    world.clock.current = world.minute(60 * 2)  # 14:00 UTC is 10:00 in New York (EDT)
    [view, off] = sorted(await world.execute(ListSchedules()), key=lambda v: v.pipeline != "p")
    assert (view.schedule, view.timezone, view.catchup, view.enabled) == (
        "0 9 * * *",
        "America/New_York",
        "skip",
        True,
    )
    assert [t.isoformat() for t in view.next_fires] == [
        "2024-05-02T13:00:00+00:00",
        "2024-05-03T13:00:00+00:00",
        "2024-05-04T13:00:00+00:00",
    ]
    assert view.last_fire is None and view.last_run is None
    assert off.pipeline == "off" and not off.enabled and off.next_fires == []

    world.clock.current = datetime_at(13, 0, 2)
    fire = await world.execute(FireSchedule(pipeline_id=p.id, scheduled_for=datetime_at(13)))
    [view, _] = sorted(
        await world.execute(ListSchedules(next_count=1)), key=lambda v: v.pipeline != "p"
    )
    assert view.last_fire is not None
    assert (view.last_fire.outcome, view.last_fire.execution_id) == ("queued", fire.execution_id)
    assert view.last_fire.scheduled_for == datetime_at(13)
    assert view.last_run is not None
    assert (view.last_run.id, view.last_run.status) == (fire.execution_id, "queued")
    assert len(view.next_fires) == 1


def datetime_at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time on the day after the pipelines were created (UTC)."""
    return datetime(2024, 5, 2, hour, minute, second, tzinfo=UTC)
