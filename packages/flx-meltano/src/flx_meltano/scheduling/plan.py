"""What one scheduler knows of one pipeline's schedule, and which cron times are due.

A ``Track`` holds a cursor (every cron time up to it is handled) and the next time the
schedule fires after it, so a tick costs a comparison per pipeline. Its first cursor is the
pipeline's last fire, or its ``updated_at`` when it never fired or changed since: creating a
pipeline, changing its schedule or enabling it does not fire times that passed before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flx_meltano.scheduling.repository import ScheduledPipeline
from flx_meltano.scheduling.times import latest_fire_times, next_fire

#: The most cron times a pipeline with ``catchup: all`` fires after a downtime (the latest).
MAX_CATCHUP = 100


@dataclass(frozen=True)
class Due:
    """The cron times to fire now, oldest first; ``missed``: earlier ones were left out
    (``catchup: skip`` fires only the latest; ``all`` at most MAX_CATCHUP)."""

    times: list[datetime]
    missed: bool


@dataclass
class Track:
    pipeline: ScheduledPipeline
    cursor: datetime
    next_due: datetime

    @classmethod
    def start(cls, pipeline: ScheduledPipeline, last_fire: datetime | None) -> Track:
        cursor = pipeline.updated_at if last_fire is None else max(last_fire, pipeline.updated_at)
        return cls(pipeline, cursor, next_fire(pipeline.schedule, pipeline.timezone, cursor))

    def same_schedule(self, other: ScheduledPipeline) -> bool:
        """Whether ``other`` (a fresh read of the pipeline) schedules as this track does."""
        return self.pipeline == other

    def due(self, now: datetime) -> Due | None:
        """The times to fire at ``now``, or None when the next one has not come."""
        if self.next_due > now:
            return None
        p = self.pipeline
        limit = 1 if p.catchup == "skip" else MAX_CATCHUP
        times, missed = latest_fire_times(p.schedule, p.timezone, self.cursor, now, limit)
        return Due(times, missed) if times else None

    def handled(self, upto: datetime) -> None:
        """Every cron time up to ``upto`` is fired (or was someone else's)."""
        if upto > self.cursor:
            self.cursor = upto
            self.next_due = next_fire(self.pipeline.schedule, self.pipeline.timezone, upto)
