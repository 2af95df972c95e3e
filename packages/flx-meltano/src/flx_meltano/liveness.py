"""Whether the schedulers and the workers of an installation are alive, as the database
tells it to any process (for the health checks of `flx doctor`).

- Scheduler: each scheduler records its tick in ``scheduler_ticks`` every few seconds; it
  is alive when the newest tick is recent. Without an enabled scheduled pipeline none is
  needed (the embedded default between two `flx serve`), and its absence is no failure.
- Workers: Celery workers run with remote control off (see ``distributed.app``), so they are
  not asked; their runs are looked at instead. Each run heartbeats while it goes, and a
  queued run is taken by a worker within moments. Workers are missing when a running
  execution's heartbeat stopped, or when a due run stayed queued, unheld, for longer than
  FLX_HEARTBEAT_TIMEOUT: nothing consumes its queue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flx_core.config import FlxSettings
from flx_meltano.scheduling.repository import ScheduleFireRepository


async def scheduler_alive(app: Any, settings: FlxSettings) -> str:
    """A probe: a scheduler ticked within FLX_HEALTH_SCHEDULER_STALE_SECONDS, or none is
    needed (no enabled pipeline has a schedule)."""
    async with app.uow_factory() as uow:
        repo = uow.get(ScheduleFireRepository)
        last = await repo.last_tick()
        scheduled = [p for p in await repo.scheduled_pipelines() if p.enabled]
    age = None if last is None else (app.clock.now() - last).total_seconds()
    if age is not None and age <= settings.health_scheduler_stale_seconds:
        return f"last tick {age:.0f} s ago"
    seen = "no scheduler has ticked yet" if age is None else f"the last tick was {age:.0f} s ago"
    if not scheduled:
        return f"{seen}; none needed: no enabled pipeline has a schedule"
    raise RuntimeError(f"{seen}, and {len(scheduled)} scheduled pipeline(s) wait for it")


async def workers_alive(app: Any, settings: FlxSettings) -> str:
    """A probe: no run is left without a live process (see the module's doc)."""
    before = app.clock.now() - timedelta(seconds=settings.heartbeat_timeout)
    async with app.uow_factory() as uow:
        lost, waiting = await uow.get(ScheduleFireRepository).unattended(before)
    problems = []
    if waiting:
        problems.append(
            f"{waiting} run(s) queued for over {settings.heartbeat_timeout:g} s, taken by no "
            "worker (none consumes their queue, or all are busy)"
        )
    if lost:
        problems.append(
            f"{lost} running execution(s) without a heartbeat for "
            f"{settings.heartbeat_timeout:g} s (their worker is gone)"
        )
    if problems:
        raise RuntimeError("; ".join(problems))
    return "every run is attended"
