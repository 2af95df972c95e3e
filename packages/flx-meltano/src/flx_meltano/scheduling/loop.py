"""The scheduler's loop: every tick, fire the cron times that are due; now and then, reload
the schedules, reap dead executions and prune old fire rows.

Any number of schedulers may run against one database. Each fires what it sees due, in a
random order per tick so that two share the work; the database lets each (pipeline, time)
through once (see ``FireSchedule``), and the losers simply move on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import time
from datetime import datetime, timedelta

import structlog

from flx_core.application import Application
from flx_core.config import FlxSettings
from flx_core.domain import Principal
from flx_meltano.application.runs import ReapDeadExecutions
from flx_meltano.application.schedules import FireSchedule
from flx_meltano.scheduling.plan import MAX_CATCHUP, Due, Track
from flx_meltano.scheduling.repository import ScheduleFire, ScheduleFireRepository
from flx_observability import metrics

log = structlog.get_logger(__name__)

#: Fire rows older than this are deleted (each pipeline's last one is kept).
FIRE_RETENTION = timedelta(days=30)
PRUNE_EVERY = 3600.0
#: How often a scheduler records its tick in the database (for the liveness checks).
TICK_RECORD_SECONDS = 10.0


class Scheduler:
    """Fires the schedules of enabled pipelines through ``app`` (a scheduler process's
    application, or a server's).

    ``reload_every``: seconds between reads of the pipelines (a change of schedule shows
    within this; between reads a tick touches no table unless something is due, or its
    tick is to be recorded: every ``TICK_RECORD_SECONDS``, for the liveness checks).
    ``concurrency``: fires in flight at once (one on SQLite, whose writers take turns).
    """

    def __init__(
        self,
        app: Application,
        settings: FlxSettings,
        *,
        name: str | None = None,
        reload_every: float = 5.0,
        concurrency: int | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.reload_every = reload_every
        self.concurrency = concurrency or (1 if settings.is_embedded else 8)
        self.principal = Principal.system("scheduler")
        self.tracks: dict[str, Track] = {}
        #: When the last tick ended (liveness, for a health check in this process).
        self.last_tick: datetime | None = None
        self._due_at = {"reload": 0.0, "reap": 0.0, "prune": 0.0, "record": 0.0}
        self._random = random.Random()  # noqa: S311  (an order, not a secret)

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``settings.scheduler_tick`` seconds until ``stop`` is set."""
        log.info("scheduler_started", scheduler=self.name, tick=self.settings.scheduler_tick)
        while not stop.is_set():
            began = time.monotonic()
            try:
                await self.tick()
            except Exception:  # the database may be away for a while: keep trying
                log.exception("scheduler_tick_failed", scheduler=self.name)
            pause = self.settings.scheduler_tick - (time.monotonic() - began)
            if pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
        log.info("scheduler_stopped", scheduler=self.name)

    async def tick(self) -> list[ScheduleFire]:
        """One pass: the housekeeping that is due, then every due cron time fired."""
        for chore, every in (
            ("reload", self.reload_every),
            ("reap", self.settings.reaper_interval),
            ("prune", PRUNE_EVERY),
            ("record", TICK_RECORD_SECONDS),
        ):
            if time.monotonic() < self._due_at[chore]:
                continue
            try:
                await getattr(self, f"_{chore}")()
            except Exception:  # one chore failing must not stop the others, or the fires
                log.exception(f"scheduler_{chore}_failed", scheduler=self.name)
                continue
            self._due_at[chore] = time.monotonic() + every
        now = self.app.clock.now()
        due = [(track, d) for track in self.tracks.values() if (d := track.due(now))]
        self._random.shuffle(due)
        fired: list[ScheduleFire] = []
        slots = asyncio.Semaphore(self.concurrency)

        async def fire(track: Track, d: Due) -> None:
            async with slots:
                fired.extend(await self._fire(track, d, now))

        await asyncio.gather(*(fire(track, d) for track, d in due))
        self.last_tick = self.app.clock.now()
        metrics.SCHEDULER_TICKS.inc()
        metrics.SCHEDULER_LAST_TICK.set(time.time())
        return fired

    async def _reload(self) -> None:
        """Read the schedulable pipelines; start tracks for new or changed ones (their last
        fires read in one query), drop those gone or disabled."""
        async with self.app.uow_factory() as uow:
            repo = uow.get(ScheduleFireRepository)
            current = {p.id: p for p in await repo.scheduled_pipelines()}
            fresh = [
                p
                for p in current.values()
                if p.id not in self.tracks or not self.tracks[p.id].same_schedule(p)
            ]
            last = await repo.latest([p.id for p in fresh])
        for gone in set(self.tracks) - set(current):
            del self.tracks[gone]
        for p in fresh:
            fire = last.get(p.id)
            self.tracks[p.id] = Track.start(p, fire.scheduled_for if fire else None)

    async def _fire(self, track: Track, due: Due, now: datetime) -> list[ScheduleFire]:
        p = track.pipeline
        if due.missed:
            what = "the latest" if p.catchup == "skip" else f"the last {MAX_CATCHUP}"
            log.info(
                "schedule_catching_up",
                pipeline=p.name,
                catchup=p.catchup,
                since=track.cursor.isoformat(),
                note=f"more cron times were missed than fired: firing {what} of them",
            )
        fired: list[ScheduleFire] = []
        for when in due.times:
            command = FireSchedule(pipeline_id=p.id, scheduled_for=when, scheduler=self.name)
            try:
                result = await self.app.execute(command, principal=self.principal)
            except Exception:
                log.exception("schedule_fire_failed", pipeline=p.name, scheduled_for=when)
                return fired  # tried again next tick: the cursor stays before ``when``
            track.handled(when)
            if result.ok:
                fire: ScheduleFire = result.unwrap()
                fired.append(fire)
                self._log_fire(p.name, fire)
            elif result.error_code == "already_fired":
                log.debug("schedule_fired_elsewhere", pipeline=p.name, scheduled_for=when)
            else:
                log.info(
                    "schedule_not_fired", pipeline=p.name, scheduled_for=when, reason=result.message
                )
        track.handled(now)
        return fired

    def _log_fire(self, pipeline: str, fire: ScheduleFire) -> None:
        metrics.SCHEDULE_FIRES.labels(fire.outcome).inc()
        metrics.SCHEDULER_LAG.observe(max(0.0, fire.lag))
        log.info(
            "schedule_fired",
            pipeline=pipeline,
            scheduled_for=fire.scheduled_for.isoformat(),
            lag_seconds=round(fire.lag, 3),
            outcome=fire.outcome,
            execution_id=fire.execution_id,
            note=fire.note or None,
        )

    async def _reap(self) -> None:
        result = await self.app.execute(ReapDeadExecutions(), principal=self.principal)
        if not result.ok:
            log.warning("reaper_failed", reason=result.message)
            return
        reaped = result.unwrap().reaped  # each is logged with its reason as it is reaped
        metrics.EXECUTIONS_REAPED.inc(len(reaped))
        if reaped:
            log.info("reaped_executions", executions=reaped)

    async def _record(self) -> None:
        """The durable trace of this scheduler's life, which any process can read."""
        async with self.app.uow_factory() as uow:
            await uow.get(ScheduleFireRepository).record_tick(self.name, self.app.clock.now())
            await uow.commit()

    async def _prune(self) -> None:
        cutoff = self.app.clock.now() - FIRE_RETENTION
        async with self.app.uow_factory() as uow:
            pruned = await uow.get(ScheduleFireRepository).prune(cutoff)
            await uow.commit()
        if pruned:
            log.info("schedule_fires_pruned", rows=pruned, before=cutoff.isoformat())
