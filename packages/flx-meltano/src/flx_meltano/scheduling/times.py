"""When a cron schedule fires: wall-clock times in the pipeline's timezone, as UTC instants.

The cron fields are read against the wall clock of the pipeline's timezone, the way people
write them ("02:30 every day, Paris time"). Around daylight-saving changes a wall time may
not exist or may happen twice; the rules are Vixie cron's:

- a schedule with a fixed hour (``30 2 * * *``) fires once a day whatever happens: a time
  skipped by the spring change fires when the clock jumps (02:30 fires at 03:00, the first
  instant after the gap), a time repeated by the autumn change fires at its first occurrence;
- a schedule whose hour field is ``*`` (hourly or more often) follows real time: nothing
  fires for the skipped hour, and the repeated hour fires twice.

croniter walks the wall clock with naive datetimes (plain calendar arithmetic, no DST
surprises); this module maps each wall time to its instants and hands them out in order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from flx_core.domain import CronExpression

#: The aliases croniter accepts, as the five fields they stand for.
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: Around a timezone change, a wall time's instants lie within this of its UTC reading
#: (larger than any offset change on record, Samoa's skipped day of 2011 included).
_WINDOW = timedelta(hours=27)


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def fields(schedule: CronExpression) -> str:
    """The five fields of ``schedule`` (an alias expanded)."""
    return ALIASES.get(schedule.value.lower(), schedule.value)


def follows_real_time(schedule: CronExpression) -> bool:
    """Whether the hour field is a wildcard (``*``, ``*/2``): hourly or more often."""
    return fields(schedule).split()[1].startswith("*")


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _jump(wall: datetime, tz: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The instant the clock jumps over the nonexistent ``wall`` (between ``low``, still
    before it, and ``high``, already after it), to the second."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if _wall(middle, tz) >= wall:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


def instants(wall: datetime, tz: ZoneInfo, real_time: bool) -> list[datetime]:
    """The UTC instants at which the naive ``wall`` time fires (none, one or two)."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first < second:  # repeated (autumn): ``first`` is its earlier occurrence
        return [first, second] if real_time else [first]
    # skipped (spring): ``second`` reads before the gap, ``first`` after it
    return [] if real_time else [_jump(wall, tz, second, first)]


def fire_times(schedule: CronExpression, timezone: str, after: datetime) -> Iterator[datetime]:
    """The UTC instants after ``after`` at which ``schedule`` fires, in order, endless."""
    tz = zone(timezone)
    real_time = follows_real_time(schedule)
    after = after.astimezone(UTC)
    # The earliest wall time that can fire after ``after``: its instants are at most the
    # largest offset nearby before its UTC reading.
    offsets = [(after + d).astimezone(tz).utcoffset() for d in (-_WINDOW, timedelta(0), _WINDOW)]
    start = after.replace(tzinfo=None) + min(o for o in offsets if o is not None)
    walls = croniter(fields(schedule), start - timedelta(seconds=1))
    pending: list[datetime] = []
    last = after
    while True:
        wall: datetime = walls.get_next(datetime)
        found = instants(wall, tz, real_time)
        # No later wall time fires before this bound, so what is pending below it is due.
        bound = min(found) if found else wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
        while pending and pending[0] <= bound:
            nxt = heapq.heappop(pending)
            if nxt > last:
                last = nxt
                yield nxt
        for instant in found:
            heapq.heappush(pending, instant)


def next_fire(schedule: CronExpression, timezone: str, after: datetime) -> datetime:
    """The first instant after ``after`` at which ``schedule`` fires (UTC)."""
    return next(fire_times(schedule, timezone, after))


def is_fire_time(schedule: CronExpression, timezone: str, moment: datetime) -> bool:
    """Whether ``schedule`` fires at exactly ``moment``."""
    return next_fire(schedule, timezone, moment - timedelta(microseconds=1)) == moment


def latest_fire_times(
    schedule: CronExpression, timezone: str, after: datetime, until: datetime, limit: int
) -> tuple[list[datetime], bool]:
    """The last ``limit`` instants in (``after``, ``until``], oldest first, and whether
    earlier ones in that span were left out.

    Looks back from ``until`` through a widening window, so a schedule that missed a month
    of minutes costs what the last ``limit`` of them cost, not the whole month.
    """
    window = timedelta(hours=1)
    while True:
        start = max(after, until - window)
        found: list[datetime] = []
        for instant in fire_times(schedule, timezone, start):
            if instant > until:
                break
            found.append(instant)
        if len(found) > limit:
            return found[-limit:], True
        if start == after:
            return found, False
        if len(found) == limit:  # there may be more before the window
            return found, bool(_any_between(schedule, timezone, after, start))
        window *= 4


def _any_between(schedule: CronExpression, timezone: str, after: datetime, until: datetime) -> bool:
    return next_fire(schedule, timezone, after) <= until
