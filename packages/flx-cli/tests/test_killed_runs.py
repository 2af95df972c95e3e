"""A killed `flx run`, cold or warm, with real processes: its run ends failed with the reason
a dead run gets, the user's terminal hears nothing more, and no tap or target is left.

The fixture tap sends its rows, then waits (``hang``), as a tap waiting on a slow source
does: such a tap never meets a closed pipe, so only its death signal or its runner stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from typing import Any

#: Cold, the reaper finds the run's process gone ("worker lost"); warm, the daemon's worker
#: finds its client gone and ends the run itself ("abandoned").
REASON = re.compile(
    r"(?:worker lost|abandoned): the process running it \(pid (\d+) on (.+)\) is gone"
)


def wait_until(condition: Any, what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


def assert_abandoned_by(execution: dict[str, Any], pid: int) -> None:
    assert execution["status"] == "failed", execution
    found = REASON.fullmatch(execution["error"] or "")
    assert found, execution["error"]
    assert (int(found[1]), found[2]) == (pid, socket.gethostname())


def test_kill_9_of_flx_run_on_a_terminal_fails_the_run_and_leaves_no_connector(cli: Any) -> None:
    flx = cli
    out = flx.add_fixture_pipeline(rows=40, state_every=10, hang="true")
    # Typed at a terminal with FLX_DAEMON unset (auto): warm when the test's daemon runs.
    env = {k: v for k, v in flx.env.items() if k != "FLX_DAEMON" or flx.mode == "cold"}
    run = flx.in_terminal("run", "slow", env=env)
    try:
        execution_id = flx.wait_running()
        connectors = wait_until(
            lambda: len(flx.connector_pids()) == 2 and flx.connector_pids(), "tap and target"
        )
        if flx.mode == "warm":
            assert flx.daemon_status()["running"], "the run goes through the daemon"
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=10)
        # Nothing holds the user's terminal any more, and nothing more was written there.
        assert run.released.wait(timeout=10)
        assert not re.search(r"stopping|slow: \w+ in", run.output), run.output
        wait_until(lambda: not any(flx.alive(pid) for pid in connectors), "the connectors die")
    finally:
        run.close()
    assert flx.connector_pids() == []
    if flx.mode == "warm":
        # The worker records the end itself, at once: the reason names its client.
        wait_until(lambda: flx.show(execution_id)["status"] != "running", "the recorded end")
        assert_abandoned_by(flx.show(execution_id), run.proc.pid)
        wait_until(lambda: flx.daemon_status()["running"] == [], "the worker's end")
    # Cold, nobody is left to record it: the next run of the pipeline finds the pid dead.
    flx("pipeline", "update", "slow", "--config", "extractor.hang=")
    rerun = flx("run", "slow")
    assert "slow: succeeded" in rerun.stdout
    assert_abandoned_by(flx.show(execution_id), run.proc.pid)
    assert sorted(int(k) for k in json.loads(out.read_text())["items"]) == list(range(40))
    assert flx.connector_pids() == []


def test_a_killed_worker_takes_its_connectors_along(warm_cli: Any) -> None:
    """The worker itself killed (the OOM killer, kill -9 of the wrong pid): its tap and target
    die with it, its client ends as a killed process does, and the next run records why."""
    flx = warm_cli
    flx.add_fixture_pipeline(rows=40, state_every=10, hang="true")
    flx("daemon", "start")
    run = flx.start("run", "slow")
    try:
        execution_id = flx.wait_running()
        connectors = wait_until(
            lambda: len(flx.connector_pids()) == 2 and flx.connector_pids(), "tap and target"
        )
        (worker,) = flx.daemon_status()["running"]
        os.kill(worker, signal.SIGKILL)
        _, err = run.communicate(timeout=30)
        wait_until(lambda: not any(flx.alive(pid) for pid in connectors), "the connectors die")
    finally:
        run.kill()
        run.communicate()
    assert run.returncode == 128 + signal.SIGKILL, err
    flx("pipeline", "update", "slow", "--config", "extractor.hang=")
    assert "slow: succeeded" in flx("run", "slow").stdout
    assert_abandoned_by(flx.show(execution_id), worker)
