"""`flx execution logs` reads through the log store: with logs in the database (PostgreSQL),
a process with another FLX_HOME, as on another machine, prints and follows a run's log."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

FLX = str(Path(sys.executable).parent / "flx")
DEADLINE = 60.0


def elsewhere(flx: Any) -> dict[str, str]:
    """The environment of `flx` on another machine: same database, another home."""
    return {**flx.env, "FLX_HOME": str(flx.work / "elsewhere")}


def stored_rows(url: str, execution_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM log_chunks WHERE execution_id = %s", (execution_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def on_postgres(cli: Any, postgres_url: str) -> Any:
    """`flx` on a PostgreSQL database, where logs go to the database by default."""
    cli.env["FLX_DATABASE_URL"] = postgres_url
    return cli


def test_a_run_log_is_read_from_the_database_by_another_home(
    on_postgres: Any, postgres_url: str
) -> None:
    flx = on_postgres
    flx.add_fixture_pipeline("quick", rows=30)
    assert "quick: succeeded" in flx("run", "quick").stdout
    execution_id = json.loads(flx("--json", "execution", "list").stdout)["items"][0]["id"]
    log_file = flx.work / "home" / "logs" / "quick" / f"{execution_id}.log"
    written = log_file.read_text()
    assert "tap_fixture: done" in written
    assert stored_rows(postgres_url, execution_id) >= 1
    log_file.unlink()  # what is printed now can only come from the database

    printed = flx("execution", "logs", execution_id[:10], env=elsewhere(flx))
    assert printed.stdout == written
    tail = flx("execution", "logs", execution_id, "--tail", "2", env=elsewhere(flx))
    assert tail.stdout == "".join(written.splitlines(keepends=True)[-2:])
    assert not (flx.work / "elsewhere" / "logs").exists()


def test_follow_from_another_home_prints_a_run_as_it_goes_and_stops_at_its_end(
    on_postgres: Any,
) -> None:
    flx = on_postgres
    flx.add_fixture_pipeline("slow", rows=20, hang=True)  # runs until cancelled
    run = flx.start("run", "slow", capture=False)
    follower: subprocess.Popen[bytes] | None = None
    try:
        execution_id = flx.wait_running()
        # Unbuffered: what the first line's read takes is all that communicate() misses.
        follower = subprocess.Popen(
            [FLX, "execution", "logs", execution_id, "--follow"],
            env=elsewhere(flx),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        first = first_line(follower)
        assert b" flx | " in first, first
        assert flx.show(execution_id)["status"] == "running"  # it cannot end by itself
        flx("execution", "cancel", execution_id)
        rest, err = follower.communicate(timeout=DEADLINE)
        run.wait(timeout=DEADLINE)
    finally:
        for proc in (run, follower):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert follower.returncode == 0, err
    assert flx.show(execution_id)["status"] == "cancelled"
    log_file = flx.work / "home" / "logs" / "slow" / f"{execution_id}.log"
    assert first + rest == log_file.read_bytes()


def test_an_execution_without_a_log_is_a_clear_error(on_postgres: Any) -> None:
    flx = on_postgres
    flx("plugin", "add", "extractor", "tap-ghost", "--executable", "/nonexistent/tap-ghost")
    flx("plugin", "add", "loader", "target-ghost", "--executable", "/nonexistent/target-ghost")
    flx("pipeline", "create", "ghost", "-e", "tap-ghost", "-l", "target-ghost")
    assert flx("run", "ghost", check=False).returncode == 1
    execution_id = json.loads(flx("--json", "execution", "list").stdout)["items"][0]["id"]
    result = flx("execution", "logs", execution_id, env=elsewhere(flx), check=False)
    assert result.returncode == 1
    assert f"execution {execution_id[:12]} has no log: it ended before its connectors " in (
        result.stderr
    )
    assert "tap-ghost" in result.stderr
    unknown = flx("execution", "logs", "f" * 32, env=elsewhere(flx), check=False)
    assert unknown.returncode == 1 and "not found" in unknown.stderr


def first_line(proc: subprocess.Popen[bytes]) -> bytes:
    """The first line ``proc`` prints, waiting at most DEADLINE for it."""
    assert proc.stdout is not None
    stdout = proc.stdout
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(stdout.readline()))
    reader.start()
    reader.join(DEADLINE)
    if not got or not got[0]:
        proc.kill()
        raise AssertionError(f"the follower printed nothing: {proc.communicate()[1]}")
    return got[0]
