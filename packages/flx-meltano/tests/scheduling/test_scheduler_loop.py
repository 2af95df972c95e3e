"""The scheduler's ticks: due times fired once across schedulers, baselines kept over a
restart, catch-up after a downtime, changes seen on reload, dead runs reaped."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from flx_core.application import UpdatePipeline
from flx_core.domain import ExecutionStatus
from flx_meltano import RunPipeline, Scheduler
from flx_meltano.scheduling.plan import MAX_CATCHUP

World = Any  # the `world` fixture (conftest.py)


async def schedulers(world: World, count: int) -> list[Scheduler]:
    """``count`` schedulers, each in a process of its own, reading pipelines every tick."""
    found = []
    for _ in range(count):
        runtime, _ = await world.process()
        found.append(Scheduler(runtime.app, runtime.settings, reload_every=0))
    return found


async def tick_all(world: World, group: list[Scheduler], at: Any) -> int:
    world.clock.current = at
    fired = await asyncio.gather(*(s.tick() for s in group))
    return sum(len(f) for f in fired)


async def test_two_schedulers_fire_each_minute_once(world: World) -> None:
    p = await world.pipeline(on_conflict="queue")  # created at 12:00:30
    group = await schedulers(world, 2)
    m = world.minute
    assert await tick_all(world, group, m(0, 45)) == 0  # 12:00 passed before it existed
    for n in range(1, 6):
        assert await tick_all(world, group, m(n, 0.3)) == 1
        assert await tick_all(world, group, m(n, 20)) == 0
    fires = await world.fires(p.id)
    assert [f.scheduled_for for f in fires] == [m(n) for n in range(1, 6)]
    assert {f.outcome for f in fires} == {"queued"}
    assert {f.scheduler for f in fires} <= {s.name for s in group}
    executions = await world.executions()
    assert sorted(e.scheduled_for for e in executions) == [m(n) for n in range(1, 6)]
    assert {e.trigger for e in executions} == {"schedule"}


async def test_a_restarted_scheduler_does_not_fire_a_time_again(world: World) -> None:
    p = await world.pipeline()
    [first] = await schedulers(world, 1)
    assert await tick_all(world, [first], world.minute(1, 0.5)) == 1
    [restarted] = await schedulers(world, 1)  # knows nothing but the database
    assert await tick_all(world, [restarted], world.minute(1, 40)) == 0
    assert await tick_all(world, [restarted], world.minute(2, 0.5)) == 1
    assert [f.scheduled_for for f in await world.fires(p.id)] == [world.minute(1), world.minute(2)]


async def test_after_a_downtime_catchup_skip_fires_the_latest_time_once(world: World) -> None:
    p = await world.pipeline(catchup="skip")
    [before] = await schedulers(world, 1)
    assert await tick_all(world, [before], world.minute(1, 0.5)) == 1
    [after] = await schedulers(world, 1)
    assert await tick_all(world, [after], world.minute(9, 12)) == 1
    fires = await world.fires(p.id)
    assert [f.scheduled_for for f in fires] == [world.minute(1), world.minute(9)]


async def test_after_a_downtime_catchup_all_fires_every_missed_time(world: World) -> None:
    p = await world.pipeline(catchup="all", on_conflict="queue")
    [before] = await schedulers(world, 1)
    assert await tick_all(world, [before], world.minute(1, 0.5)) == 1
    [after] = await schedulers(world, 1)
    assert await tick_all(world, [after], world.minute(9, 12)) == 8
    fires = await world.fires(p.id)
    assert [f.scheduled_for for f in fires] == [world.minute(n) for n in range(1, 10)]
    assert len(await world.executions()) == 9


async def test_catchup_all_stops_at_the_cap(world: World) -> None:
    p = await world.pipeline(catchup="all", on_conflict="queue")
    [scheduler] = await schedulers(world, 1)
    assert await tick_all(world, [scheduler], world.minute(MAX_CATCHUP + 50, 1)) == MAX_CATCHUP
    fires = await world.fires(p.id)
    assert fires[0].scheduled_for == world.minute(51)
    assert fires[-1].scheduled_for == world.minute(MAX_CATCHUP + 50)


async def test_a_changed_schedule_takes_effect_from_the_change(world: World) -> None:
    p = await world.pipeline()
    [scheduler] = await schedulers(world, 1)
    assert await tick_all(world, [scheduler], world.minute(1, 0.5)) == 1
    world.clock.current = world.minute(1, 10)
    await world.execute(UpdatePipeline(pipeline="p", changes={"schedule": "*/5 * * * *"}))
    for n in range(2, 5):
        assert await tick_all(world, [scheduler], world.minute(n, 0.5)) == 0
    assert await tick_all(world, [scheduler], world.minute(5, 0.5)) == 1
    world.clock.current = world.minute(5, 10)
    await world.execute(UpdatePipeline(pipeline="p", changes={"enabled": False}))
    assert await tick_all(world, [scheduler], world.minute(10, 0.5)) == 0
    assert [f.scheduled_for for f in await world.fires(p.id)] == [world.minute(1), world.minute(5)]


async def test_the_scheduler_reaps_dead_executions(world: World) -> None:
    await world.pipeline(schedule=None)
    requested = await world.execute(RunPipeline(pipeline="p"))
    # Nobody took it: after FLX_QUEUE_TIMEOUT it is dead, and the scheduler says so.
    world.clock.current += timedelta(seconds=world.app_settings.queue_timeout + 60)
    [scheduler] = await schedulers(world, 1)
    await scheduler.tick()
    [execution] = await world.executions()
    assert execution.id == requested.id
    assert execution.status is ExecutionStatus.FAILED
    assert scheduler.last_tick == world.clock.current
