"""`flx scheduler` for real: two scheduler processes on one PostgreSQL database fire each
minute of a `* * * * *` pipeline exactly once, run it, stop cleanly on SIGTERM; a later
`flx scheduler --once` fires only what came since. Bad schedules are refused with the
reason.

The schedulers run for a little over three minutes of wall-clock time (cron has minutes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

FLX = str(Path(sys.executable).parent / "flx")
#: Minute boundaries the schedulers must fire while both run.
MINUTES = 3


class Flx:
    """`flx` commands in their own processes, on one database, each with its own home."""

    def __init__(self, database_url: str, root: Path) -> None:
        self.database_url = database_url
        self.root = root
        self.homes = 0

    def env(self) -> dict[str, str]:
        self.homes += 1
        home = self.root / f"home-{self.homes}"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
        env.update(
            FLX_HOME=str(home),
            FLX_DATABASE_URL=self.database_url,
            FLX_DAEMON="off",
            FLX_LOG_FORMAT="json",
            FLX_EXECUTOR="local",
        )
        return env

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [FLX, *args],
            env=self.env(),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [FLX, *args],
            env=self.env(),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its connectors too can be killed by its group id
        )


@pytest.fixture
def flx(postgres_url: str, tmp_path: Path) -> Flx:
    return Flx(postgres_url, tmp_path)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts: killed (with their process groups) whatever happens."""
    processes: list[subprocess.Popen[str]] = []
    try:
        yield processes
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


def rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return list(conn.execute(sql).fetchall())


def boundary_after(moment: datetime, n: int = 1) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=n)


def sleep_until(moment: datetime) -> None:
    pause = (moment - datetime.now(UTC)).total_seconds()
    if pause > 0:
        time.sleep(pause)


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, and the process's log once it exited (it must, promptly and cleanly)."""
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return err


def events(log: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


@pytest.mark.slow
@pytest.mark.timeout(480)
def test_two_schedulers_fire_each_minute_once(
    flx: Flx, started: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    flx(
        "pipeline",
        "create",
        "every-minute",
        "-e",
        "tap-flx-sample",
        "-l",
        "target-flx-jsonl",
        "--schedule",
        "* * * * *",
        "-c",
        "extractor.rows=20",
        "-c",
        f"loader.destination_path={out}",
    )
    created = datetime.now(UTC)
    started.extend(flx.start("scheduler", "--tick", "0.5") for _ in range(2))
    last = boundary_after(created, MINUTES)
    sleep_until(last + timedelta(seconds=20))  # the last run has ended long before
    logs = [stop(proc) for proc in started]
    stopped = datetime.now(UTC)
    assert stopped < boundary_after(last), "the test overslept a minute boundary"

    expected = [boundary_after(created, n) for n in range(1, MINUTES + 1)]
    executions = rows(
        flx.database_url,
        "SELECT scheduled_for, trigger, requested_by, status FROM executions "
        "WHERE pipeline_name = 'every-minute' ORDER BY scheduled_for",
    )
    assert [e[0] for e in executions] == expected  # one per minute, none before creation
    assert {e[1:] for e in executions} == {("schedule", "scheduler", "succeeded")}
    fires = rows(
        flx.database_url,
        "SELECT scheduled_for, outcome, scheduler FROM schedule_fires ORDER BY scheduled_for",
    )
    assert Counter(f[0] for f in fires) == Counter(expected)  # no time fired twice
    assert {f[1] for f in fires} == {"queued"}
    # Each scheduler logged the fires it won, and those are the rows that name it.
    winner = {f[0].astimezone(UTC).isoformat(): f[2] for f in fires}
    won = []
    for log in logs:
        [name] = {e["scheduler"] for e in events(log) if e["event"] == "scheduler_started"}
        for e in events(log):
            if e["event"] == "schedule_fired":
                assert e["pipeline"] == "every-minute"
                assert winner[str(e["scheduled_for"])] == name
                won.append(str(e["scheduled_for"]))
    assert sorted(won) == [t.isoformat() for t in expected]

    # Later, one `--once` pass fires the latest time it missed, once, and waits for the run.
    sleep_until(boundary_after(stopped) + timedelta(seconds=2))
    once = flx("scheduler", "--once")
    fired = [e for e in events(once.stderr) if e["event"] == "schedule_fired"]
    assert [e["scheduled_for"] for e in fired] == [boundary_after(stopped).isoformat()]
    listed = json.loads(flx("schedule", "list", "--json").stdout)["items"]
    [view] = listed
    assert view["last_fire"]["scheduled_for"] == boundary_after(stopped).isoformat()
    assert view["last_fire"]["outcome"] == "queued"
    assert view["last_run"]["id"] == view["last_fire"]["execution_id"]
    assert view["last_run"]["status"] == "succeeded"  # --once waited for its local run
    assert len(view["next"]) == 3


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ("often", "schedule: invalid cron expression 'often': it has 1 field(s); use five"),
        ("0 25 * * *", "the hour field '25' is not valid (values 0-23"),
        ("* * * * * *", "it has 6 field(s)"),
        ("@reboot", "unknown cron alias '@reboot'"),
    ],
)
def test_a_schedule_that_cannot_be_parsed_is_refused(flx: Flx, schedule: str, reason: str) -> None:
    base = ("-e", "tap-flx-sample", "-l", "target-flx-jsonl")
    refused = flx("pipeline", "create", "p", *base, "--schedule", schedule, check=False)
    assert refused.returncode == 1 and reason in refused.stderr
    flx("pipeline", "create", "p", *base, "--schedule", "@daily")
    refused = flx("pipeline", "update", "p", "--schedule", schedule, check=False)
    assert refused.returncode == 1 and reason in refused.stderr
    [view] = json.loads(flx("schedule", "list", "--json").stdout)["items"]
    assert view["schedule"] == "@daily"


def next_night(moment: datetime) -> datetime:
    """The first 02:30 UTC after ``moment``."""
    night = moment.replace(hour=2, minute=30, second=0, microsecond=0)
    return night if night > moment else night + timedelta(days=1)


def test_schedule_list_shows_next_times_on_the_pipelines_clock(flx: Flx) -> None:
    base = ("-e", "tap-flx-sample", "-l", "target-flx-jsonl")
    flx("pipeline", "create", "nightly", *base, "--schedule", "30 2 * * *")
    flx("pipeline", "create", "off", *base, "--schedule", "@hourly", "--disabled")
    flx("pipeline", "create", "manual", *base)
    before = datetime.now(UTC)
    table = flx("schedule", "list").stdout
    after = datetime.now(UTC)
    lines = {line.split()[0]: line for line in table.splitlines() if line.strip()}
    assert "manual" not in lines
    assert "(disabled)" in lines["off"]
    # The first of three nights in full; the others as short as they can be.
    firsts = {f"{next_night(t):%Y-%m-%d %H:%M}, " for t in (before, after)}
    assert any(first in lines["nightly"] for first in firsts)
    assert lines["nightly"].count("02:30") == 3
    items = json.loads(flx("schedule", "list", "--next", "1", "--json").stdout)["items"]
    assert [(i["pipeline"], len(i["next"])) for i in items] == [("nightly", 1), ("off", 0)]
    assert items[0]["next"][0] in {next_night(t).isoformat() for t in (before, after)}
