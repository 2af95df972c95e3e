"""`flx run`, `flx execution` and `flx state` through real processes: signals, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def setup(cli: Any) -> tuple[Any, Path]:
    """The slow fixture pipeline (400 rows, 30 ms apart, STATE every 20), run in-process:
    these tests follow the pid of `flx run` itself."""
    out = cli.add_fixture_pipeline("slow", rows=400, sleep=0.03, state_every=20)
    return cli, out


def test_run_summary_and_exit_code(setup) -> None:
    flx, _out = setup
    flx("pipeline", "update", "slow", "--config", "extractor.sleep=0")
    result = flx("run", "slow")
    assert "slow: succeeded" in result.stdout
    assert "items: 400 records" in result.stdout
    listed = json.loads(flx("--json", "execution", "list").stdout)["items"]
    assert listed[0]["status"] == "succeeded" and listed[0]["records"] == 400
    logs = flx("execution", "logs", listed[0]["id"][:10]).stdout
    assert "tap_fixture: done" in logs
    assert json.loads(flx("state", "get", "slow").stdout) == {
        "bookmarks": {"items": {"position": 400}}
    }
    failing = flx("run", "ghost", check=False)
    assert failing.returncode == 1 and "pipeline 'ghost' not found" in failing.stderr


def test_cancel_from_another_shell(setup) -> None:
    flx, _ = setup
    proc = flx.start("run", "slow")
    try:
        execution_id = flx.wait_running()
        flx("execution", "cancel", execution_id[:12])
        _, _err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1
    shown = json.loads(flx("--json", "execution", "show", execution_id).stdout)
    assert shown["status"] == "cancelled"
    state = json.loads(flx("state", "get", "slow").stdout)
    position = state["bookmarks"]["items"]["position"]
    assert 0 < position < 400 and position % 20 == 0


def test_ctrl_c_cancels_and_leaves_no_children(setup) -> None:
    flx, _ = setup
    proc = flx.start("run", "slow")
    try:
        execution_id = flx.wait_running()
        children = subprocess.run(
            ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
        ).stdout.split()
        mine = [int(p) for p in children]
        assert len(mine) >= 2, "tap and target should be running under flx"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1
    assert "cancelling" in err
    shown = json.loads(flx("--json", "execution", "show", execution_id).stdout)
    assert shown["status"] == "cancelled"
    survivors = []
    for pid in mine:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.split(") ", 1)[1][:1] != "Z":
            survivors.append(pid)
    assert survivors == [], f"processes left behind: {survivors}"


def test_kill_9_then_rerun_fails_the_dead_run_and_loads_each_row_once(setup) -> None:
    flx, out = setup
    proc = flx.start("run", "slow", capture=False)
    execution_id = flx.wait_running()
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    flx("pipeline", "update", "slow", "--config", "extractor.sleep=0")
    rerun = flx("run", "slow")
    assert "slow: succeeded" in rerun.stdout
    dead = json.loads(flx("--json", "execution", "show", execution_id).stdout)
    assert dead["status"] == "failed"
    assert "pid" in dead["error"] and "gone" in dead["error"]
    rows = json.loads(out.read_text())["items"]
    assert sorted(int(k) for k in rows) == list(range(400))
    # The killed run's config files (secrets) did not outlive it past the next run.
    assert list(Path(tempfile.gettempdir()).glob(f"flx-slow-pid{proc.pid}-*")) == []


def test_logs_follow_streams_until_the_run_ends(setup) -> None:
    flx, _ = setup
    proc = flx.start("run", "slow", capture=False)
    try:
        execution_id = flx.wait_running()
        follow = flx("execution", "logs", execution_id, "--follow", check=False)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert follow.returncode == 0
    assert "tap_fixture: done" in follow.stdout
    assert "run succeeded" in follow.stdout


def test_invalid_config_fails_the_execution_clearly(setup, tmp_path: Path) -> None:
    flx, _ = setup
    flx(
        "plugin",
        "add",
        "extractor",
        "tap-typed",
        "--executable",
        str(tmp_path / "bin" / "tap-fixture"),
        "--setting",
        "rows:integer",
        "--capabilities",
        "state",
    )
    flx(
        "pipeline",
        "create",
        "typed",
        "-e",
        "tap-typed",
        "-l",
        "target-fixture",
        "--config",
        f"loader.path={tmp_path / 'typed.json'}",
    )
    failed = flx("run", "typed", env=dict(flx.env, TAP_TYPED_ROWS="many"), check=False)
    assert failed.returncode == 1
    assert "error: environment variable TAP_TYPED_ROWS must be an integer (got 'many')" in (
        failed.stderr
    )
    listed = json.loads(flx("--json", "execution", "list", "-p", "typed").stdout)
    assert listed["items"][0]["status"] == "failed"
    assert "TAP_TYPED_ROWS" in listed["items"][0]["error"]
    assert flx("state", "get", "typed", check=False).returncode == 1
    assert not (tmp_path / "typed.json").exists()
