"""Cron fire times in a pipeline's timezone: wall-clock fields, UTC instants, and the
daylight-saving rules (a fixed-hour schedule fires once a day; an hourly one follows real
time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from flx_core.domain import CronExpression
from flx_meltano.scheduling.times import (
    fire_times,
    follows_real_time,
    is_fire_time,
    latest_fire_times,
    next_fire,
)

PARIS = "Europe/Paris"


def cron(value: str) -> CronExpression:
    return CronExpression(value=value)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def times(expr: str, tz: str, after: datetime, until: datetime) -> list[datetime]:
    found = []
    for t in fire_times(cron(expr), tz, after):
        if t > until:
            return found
        found.append(t)
    return found


def test_every_minute_in_utc() -> None:
    assert list(islice(fire_times(cron("* * * * *"), "UTC", utc(2024, 1, 1, 12, 0, 30)), 3)) == [
        utc(2024, 1, 1, 12, 1),
        utc(2024, 1, 1, 12, 2),
        utc(2024, 1, 1, 12, 3),
    ]
    # A time exactly on the minute is not "after" itself.
    assert next_fire(cron("* * * * *"), "UTC", utc(2024, 1, 1, 12, 1)) == utc(2024, 1, 1, 12, 2)


@pytest.mark.parametrize(
    ("alias", "fields"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_aliases_fire_as_their_fields(alias: str, fields: str) -> None:
    start = utc(2024, 2, 27, 13, 17)
    for tz in ("UTC", PARIS):
        assert list(islice(fire_times(cron(alias), tz, start), 4)) == list(
            islice(fire_times(cron(fields), tz, start), 4)
        )


def test_fields_are_read_on_the_pipelines_wall_clock() -> None:
    nine = cron("0 9 * * *")
    # New York is UTC-5 in winter, UTC-4 in summer: 09:00 there moves in UTC.
    assert next_fire(nine, "America/New_York", utc(2024, 1, 15)) == utc(2024, 1, 15, 14)
    assert next_fire(nine, "America/New_York", utc(2024, 7, 15)) == utc(2024, 7, 15, 13)
    # Tokyo has no daylight saving; its day starts on the UTC day before.
    assert next_fire(cron("@daily"), "Asia/Tokyo", utc(2024, 7, 15, 12)) == utc(2024, 7, 15, 15)


def test_spring_gap_fires_a_fixed_hour_once_when_the_clock_jumps() -> None:
    # Paris, 2024-03-31: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert times("30 2 * * *", PARIS, utc(2024, 3, 29, 12), utc(2024, 4, 1, 12)) == [
        utc(2024, 3, 30, 1, 30),  # 02:30 CET
        utc(2024, 3, 31, 1, 0),  # the jump: 03:00 CEST
        utc(2024, 4, 1, 0, 30),  # 02:30 CEST
    ]


def test_spring_gap_skips_the_hour_for_schedules_that_follow_real_time() -> None:
    assert times("15 * * * *", PARIS, utc(2024, 3, 30, 23), utc(2024, 3, 31, 2, 30)) == [
        utc(2024, 3, 30, 23, 15),  # 00:15 CET
        utc(2024, 3, 31, 0, 15),  # 01:15 CET
        utc(2024, 3, 31, 1, 15),  # 03:15 CEST: 02:15 never was
        utc(2024, 3, 31, 2, 15),
    ]


def test_autumn_overlap_fires_a_fixed_hour_once() -> None:
    # Paris, 2024-10-27: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30 and 01:30 UTC.
    assert times("30 2 * * *", PARIS, utc(2024, 10, 26, 12), utc(2024, 10, 28, 12)) == [
        utc(2024, 10, 27, 0, 30),  # the first 02:30 only
        utc(2024, 10, 28, 1, 30),
    ]


def test_autumn_overlap_fires_twice_for_schedules_that_follow_real_time() -> None:
    assert times("0 * * * *", PARIS, utc(2024, 10, 26, 22, 30), utc(2024, 10, 27, 3)) == [
        utc(2024, 10, 26, 23),  # 01:00 CEST
        utc(2024, 10, 27, 0),  # 02:00 CEST
        utc(2024, 10, 27, 1),  # 02:00 CET, an hour later in real time
        utc(2024, 10, 27, 2),
        utc(2024, 10, 27, 3),
    ]
    minutes = times("*/20 * * * *", PARIS, utc(2024, 10, 26, 23, 50), utc(2024, 10, 27, 2))
    assert minutes == [utc(2024, 10, 27, 0) + timedelta(minutes=20 * i) for i in range(7)]


def test_hour_wildcards_follow_real_time() -> None:
    assert follows_real_time(cron("*/5 * * * *"))
    assert follows_real_time(cron("0 */2 * * *"))
    assert follows_real_time(cron("@hourly"))
    assert not follows_real_time(cron("@daily"))
    assert not follows_real_time(cron("0 9-17 * * 1-5"))


def _matcher(expr: str) -> Callable[[datetime], bool]:
    """Whether a wall time matches ``expr`` (fields as croniter parses them; day of month
    and day of week are not both restricted in these tests)."""
    (minutes, hours, days, months, weekdays), _ = croniter.expand(expr)
    assert days == ["*"] or weekdays == ["*"]

    def ok(values: list[Any], value: int) -> bool:
        return values == ["*"] or value in values

    return lambda w: (
        ok(minutes, w.minute)
        and ok(hours, w.hour)
        and ok(days, w.day)
        and ok(months, w.month)
        and ok(weekdays, w.isoweekday() % 7)
    )


def _oracle(expr: str, tz_name: str, start: datetime, end: datetime) -> list[datetime]:
    """The rules of the module, checked minute by minute in UTC (slow, obviously right)."""
    tz = ZoneInfo(tz_name)
    match = _matcher(expr)
    real_time = expr.split()[1].startswith("*")
    found = []
    t = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while t <= end:
        wall = t.astimezone(tz).replace(tzinfo=None)
        earlier = (t - timedelta(minutes=1)).astimezone(tz).replace(tzinfo=None)
        first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC) == t
        if match(wall) and (real_time or first):
            found.append(t)
        elif not real_time and wall - earlier > timedelta(minutes=1):
            # the clock jumped at t: a fixed-hour time inside the gap fires now
            skipped = earlier + timedelta(minutes=1)
            while skipped < wall:
                if match(skipped):
                    found.append(t)
                    break
                skipped += timedelta(minutes=1)
        t += timedelta(minutes=1)
    return found


#: Zones and days on which their clocks change (2024), and a zone without changes.
CHANGES = [
    (PARIS, utc(2024, 3, 31)),
    (PARIS, utc(2024, 10, 27)),
    ("America/New_York", utc(2024, 3, 10, 12)),
    ("America/New_York", utc(2024, 11, 3, 12)),
    ("Australia/Lord_Howe", utc(2024, 4, 6, 12)),  # a half-hour change
    ("Australia/Lord_Howe", utc(2024, 10, 5, 12)),
    ("UTC", utc(2024, 3, 31)),
]


@pytest.mark.parametrize(("tz", "around"), CHANGES)
@pytest.mark.parametrize("expr", ["30 2 * * *", "*/15 * * * *", "45 1 * * *", "0 2 * * 0"])
def test_agrees_with_a_minute_by_minute_reading(tz: str, around: datetime, expr: str) -> None:
    start, end = around - timedelta(days=1), around + timedelta(days=1)
    assert times(expr, tz, start, end) == _oracle(expr, tz, start, end)


def test_is_fire_time() -> None:
    daily = cron("30 2 * * *")
    assert is_fire_time(daily, PARIS, utc(2024, 3, 31, 1, 0))  # the spring jump
    assert is_fire_time(daily, PARIS, utc(2024, 10, 27, 0, 30))
    assert not is_fire_time(daily, PARIS, utc(2024, 10, 27, 1, 30))  # the repeat
    assert not is_fire_time(daily, "UTC", utc(2024, 10, 27, 2, 30, 1))


def test_latest_times_of_a_long_gap_are_the_last_ones() -> None:
    every_minute = cron("* * * * *")
    after, until = utc(2024, 1, 1), utc(2024, 2, 1, 0, 0, 30)
    found, missed = latest_fire_times(every_minute, "UTC", after, until, 100)
    assert missed
    assert found == [utc(2024, 2, 1) - timedelta(minutes=99 - i) for i in range(100)]
    assert latest_fire_times(every_minute, "UTC", after, until, 1) == ([utc(2024, 2, 1)], True)


def test_latest_times_when_fewer_than_the_limit() -> None:
    monthly = cron("@monthly")
    found, missed = latest_fire_times(monthly, "UTC", utc(2023, 12, 15), utc(2024, 2, 1), 5)
    assert (found, missed) == ([utc(2024, 1, 1), utc(2024, 2, 1)], False)
    # Exactly the limit, with nothing before: not "missed".
    found, missed = latest_fire_times(monthly, "UTC", utc(2023, 12, 15), utc(2024, 2, 1), 2)
    assert (found, missed) == ([utc(2024, 1, 1), utc(2024, 2, 1)], False)
    found, missed = latest_fire_times(monthly, "UTC", utc(2023, 11, 15), utc(2024, 2, 1), 2)
    assert (found, missed) == ([utc(2024, 1, 1), utc(2024, 2, 1)], True)
    assert latest_fire_times(monthly, "UTC", utc(2024, 1, 2), utc(2024, 1, 30), 5) == ([], False)
