"""`flx run`, `flx execution` and `flx state` through real processes: signals, kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLX = str(Path(sys.executable).parent / "flx")
CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"


def env_for(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["FLX_HOME"] = str(home)
    env["FLX_DAEMON"] = "off"  # these tests follow the pid of flx run itself
    env["FLX_HEARTBEAT_SECONDS"] = "0.5"
    env["FLX_TERMINATION_GRACE_SECONDS"] = "3"
    return env


def flx(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [FLX, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"flx {' '.join(args)} failed: {result.stderr}")
    return result


@pytest.fixture
def setup(tmp_path: Path) -> tuple[dict[str, str], Path]:
    env = env_for(tmp_path / "home")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, script in (
        ("tap-fixture", "tap_fixture.py"),
        ("target-fixture", "target_fixture.py"),
    ):
        path = bindir / name
        path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
        path.chmod(0o755)
    out = tmp_path / "out.json"
    flx(
        env,
        "plugin",
        "add",
        "extractor",
        "tap-fixture",
        "--executable",
        str(bindir / "tap-fixture"),
        "--capabilities",
        "state",
    )
    flx(
        env,
        "plugin",
        "add",
        "loader",
        "target-fixture",
        "--executable",
        str(bindir / "target-fixture"),
    )
    flx(
        env,
        "pipeline",
        "create",
        "slow",
        "-e",
        "tap-fixture",
        "-l",
        "target-fixture",
        "--config",
        "extractor.rows=400",
        "--config",
        "extractor.sleep=0.03",
        "--config",
        "extractor.state_every=20",
        "--config",
        f"loader.path={out}",
    )
    return env, out


def wait_running(env: dict[str, str], pipeline: str = "slow", deadline: float = 30) -> str:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        listed = json.loads(flx(env, "--json", "execution", "list", "-p", pipeline).stdout)
        running = [e for e in listed["items"] if e["status"] == "running"]
        if running and running[0]["records"] > 0:
            return str(running[0]["id"])
        time.sleep(0.3)
    raise AssertionError("the run never got going")


def test_run_summary_and_exit_code(setup) -> None:
    env, _out = setup
    flx(env, "pipeline", "update", "slow", "--config", "extractor.sleep=0")
    result = flx(env, "run", "slow")
    assert "slow: succeeded" in result.stdout
    assert "items: 400 records" in result.stdout
    listed = json.loads(flx(env, "--json", "execution", "list").stdout)["items"]
    assert listed[0]["status"] == "succeeded" and listed[0]["records"] == 400
    logs = flx(env, "execution", "logs", listed[0]["id"][:10]).stdout
    assert "tap_fixture: done" in logs
    assert json.loads(flx(env, "state", "get", "slow").stdout) == {
        "bookmarks": {"items": {"position": 400}}
    }
    failing = flx(env, "run", "ghost", check=False)
    assert failing.returncode == 1 and "pipeline 'ghost' not found" in failing.stderr


def test_cancel_from_another_shell(setup) -> None:
    env, _ = setup
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        execution_id = wait_running(env)
        flx(env, "execution", "cancel", execution_id[:12])
        _, _err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1
    shown = json.loads(flx(env, "--json", "execution", "show", execution_id).stdout)
    assert shown["status"] == "cancelled"
    state = json.loads(flx(env, "state", "get", "slow").stdout)
    position = state["bookmarks"]["items"]["position"]
    assert 0 < position < 400 and position % 20 == 0


def test_ctrl_c_cancels_and_leaves_no_children(setup) -> None:
    env, _ = setup
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        execution_id = wait_running(env)
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
    shown = json.loads(flx(env, "--json", "execution", "show", execution_id).stdout)
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
    env, out = setup
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    execution_id = wait_running(env)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    flx(env, "pipeline", "update", "slow", "--config", "extractor.sleep=0")
    rerun = flx(env, "run", "slow")
    assert "slow: succeeded" in rerun.stdout
    dead = json.loads(flx(env, "--json", "execution", "show", execution_id).stdout)
    assert dead["status"] == "failed"
    assert "pid" in dead["error"] and "gone" in dead["error"]
    rows = json.loads(out.read_text())["items"]
    assert sorted(int(k) for k in rows) == list(range(400))


def test_logs_follow_streams_until_the_run_ends(setup) -> None:
    env, _ = setup
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        execution_id = wait_running(env)
        follow = subprocess.run(
            [FLX, "execution", "logs", execution_id, "--follow"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert follow.returncode == 0
    assert "tap_fixture: done" in follow.stdout
    assert "run succeeded" in follow.stdout


def test_invalid_config_fails_the_execution_clearly(setup, tmp_path: Path) -> None:
    env, _ = setup
    flx(
        env,
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
        env,
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
    failed = flx(dict(env, TAP_TYPED_ROWS="many"), "run", "typed", check=False)
    assert failed.returncode == 1
    assert "TAP_TYPED_ROWS must be a valid integer" in failed.stderr + failed.stdout
    listed = json.loads(flx(env, "--json", "execution", "list", "-p", "typed").stdout)
    assert listed["items"][0]["status"] == "failed"
    assert "TAP_TYPED_ROWS" in listed["items"][0]["error"]
    assert flx(env, "state", "get", "typed", check=False).returncode == 1
    assert not (tmp_path / "typed.json").exists()
