"""`flx run` through the FLX daemon, with real processes: which commands go to it, same
results as a cold run, the client's environment and directory, signals, and `flx daemon`
itself. A killed client: test_killed_runs.py.

``warm_cli`` (conftest.py) is `flx` in a fresh home with a daemon of the test's own
(FLX_DAEMON=on); a test about FLX_DAEMON=auto removes the variable.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.xdist_group("daemon")
FLX = str(Path(sys.executable).parent / "flx")


def warm(flx: Any) -> dict[str, Any]:
    flx("daemon", "start")
    status = flx.daemon_status()
    assert status is not None
    return dict(status)


def test_a_cold_run_starts_the_daemon_and_the_next_run_uses_it(warm_cli: Any) -> None:
    """FLX_DAEMON=on: whatever the stdio (pipes here)."""
    flx = warm_cli
    flx.env["FLX_DAEMON"] = "off"
    flx.add_fixture_pipeline(rows=30, state_every=10)
    flx.env["FLX_DAEMON"] = "on"
    assert flx.daemon_status() is None
    cold = flx("run", "slow")
    assert "slow: succeeded" in cold.stdout and "items: 30 records" in cold.stdout
    deadline = time.monotonic() + 30
    while flx.daemon_status() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    before = flx.daemon_status()
    assert before is not None, "a cold run in auto mode starts a daemon"
    warm_run = flx("run", "slow", "--full-refresh")
    assert "slow: succeeded" in warm_run.stdout and "items: 30 records" in warm_run.stdout
    after = flx.daemon_status()
    assert after is not None and after["served"] == before["served"] + 1
    executions = json.loads(flx("--json", "execution", "list").stdout)["items"]
    assert [e["status"] for e in executions] == ["succeeded", "succeeded"]
    assert flx.state() == {"bookmarks": {"items": {"position": 30}}}


def test_flx_daemon_off_runs_in_process_and_starts_nothing(warm_cli: Any) -> None:
    flx = warm_cli
    flx.env["FLX_DAEMON"] = "off"
    flx.add_fixture_pipeline(rows=5)
    assert "slow: succeeded" in flx("run", "slow").stdout
    # Nothing was started: a daemon would have made its log and lock file at once.
    assert list(flx.runtime.iterdir()) == []


def executed_by(flx: Any, output: str) -> dict[str, Any]:
    """The execution a `flx run` summary names."""
    found = re.search(r"\(execution ([0-9a-f]{12})\)", output)
    assert found, output
    return dict(flx.show(found[1]))


def test_auto_runs_a_command_without_a_terminal_in_its_own_process(warm_cli: Any) -> None:
    """`echo | flx run slow` with FLX_DAEMON unset (auto): no daemon used, none started."""
    flx = warm_cli
    del flx.env["FLX_DAEMON"]
    flx.add_fixture_pipeline(rows=5)
    piped = subprocess.Popen(
        [FLX, "run", "slow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=flx.env,
        text=True,
    )
    out, err = piped.communicate("\n", timeout=120)
    assert piped.returncode == 0, err
    assert "slow: succeeded" in out
    assert executed_by(flx, out)["pid"] == piped.pid  # the run ran in that very process
    assert flx("daemon", "status", check=False).returncode == 1
    # Nor was one started: a daemon makes its log and lock file beside its socket at once.
    assert list(flx.runtime.iterdir()) == []


def test_auto_hands_a_command_typed_at_a_terminal_to_the_daemon(warm_cli: Any) -> None:
    flx = warm_cli
    del flx.env["FLX_DAEMON"]
    flx.add_fixture_pipeline(rows=5)
    first = flx.in_terminal("run", "slow")
    try:
        assert first.wait() == 0, first.output
    finally:
        first.close()
    # No daemon ran: this one ran in its own process, and started one for the next commands.
    assert executed_by(flx, first.output)["pid"] == first.proc.pid
    assert "started the FLX daemon in the background" in first.output
    deadline = time.monotonic() + 30
    while flx.daemon_status() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    served = warm(flx)["served"]
    second = flx.in_terminal("run", "slow", "--full-refresh")
    try:
        assert second.wait() == 0, second.output
    finally:
        second.close()
    assert "slow: succeeded" in second.output
    assert executed_by(flx, second.output)["pid"] != second.proc.pid  # a worker's
    assert flx.daemon_status()["served"] == served + 1
    # stdin a terminal but stdout a pipe (`flx run slow | tee run.log`): its own process.
    controller, terminal = pty.openpty()
    try:
        teed = subprocess.run(
            [FLX, "run", "slow"],
            stdin=terminal,
            capture_output=True,
            env=flx.env,
            text=True,
            timeout=120,
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert teed.returncode == 0, teed.stderr
    assert flx.daemon_status()["served"] == served + 1


def test_the_worker_takes_the_clients_environment_directory_and_exit_code(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=50)
    served = warm(flx)["served"]
    # A setting given only in the client's environment (Meltano's naming) reaches the tap.
    result = flx("--json", "run", "slow", env=dict(flx.env, TAP_FIXTURE_ROWS="7"))
    assert json.loads(result.stdout)["records"] == 7
    # FLX_HOME defaults to .flx in the working directory: the worker must work there too.
    project = flx.work / "project"
    project.mkdir()
    local = {k: v for k, v in flx.env.items() if k != "FLX_HOME"}
    missing = flx("run", "nothing-here", env=local, cwd=project, check=False)
    assert missing.returncode == 1
    assert "pipeline 'nothing-here' not found" in missing.stderr
    assert (project / ".flx" / "flx.db").exists()
    status = flx.daemon_status()
    assert status is not None and status["served"] == served + 2


def test_a_failing_run_reports_as_in_process(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=5, garbage="true")
    served = warm(flx)["served"]
    warm_run = flx("run", "slow", check=False)
    cold_run = flx("run", "slow", check=False, env=dict(flx.env, FLX_DAEMON="off"))
    assert warm_run.returncode == cold_run.returncode == 1
    assert flx.daemon_status()["served"] == served + 1

    def errors(result: Any) -> list[str]:
        return [line for line in (result.stdout + result.stderr).splitlines() if "error:" in line]

    assert errors(warm_run) == errors(cold_run) != []


def test_ctrl_c_on_the_client_cancels_the_run_in_the_worker(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=400, sleep=0.03, state_every=20)
    served = warm(flx)["served"]
    proc = flx.start("run", "slow")
    try:
        execution_id = flx.wait_running()
        assert flx.daemon_status()["running"], "the run goes through the daemon"
        assert flx.daemon_status()["served"] >= served + 1
        assert flx.connector_pids(), "tap and target should be running"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1
    assert "cancelling" in err
    assert flx.show(execution_id)["status"] == "cancelled"
    assert flx.connector_pids() == []


def test_daemon_start_status_stop(warm_cli: Any) -> None:
    flx = warm_cli
    assert flx("daemon", "status", check=False).returncode == 1
    status = warm(flx)
    pid = int(status["pid"])
    assert flx.alive(pid)
    assert f"already running (pid {pid})" in flx("daemon", "start").stdout
    assert "stopped" in flx("daemon", "stop").stdout
    deadline = time.monotonic() + 10
    while flx.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not flx.alive(pid)
    assert flx("daemon", "status", check=False).returncode == 1


def test_a_garbled_request_does_not_hurt_the_daemon(warm_cli: Any) -> None:
    flx = warm_cli
    status = warm(flx)
    for junk in (b"\x00\x00\x00\x05nope!", b"\xff\xff\xff\xff", b""):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(status["socket"]))
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(10)
            sock.recv(100)
    assert flx.daemon_status() is not None


def test_other_commands_run_warm_with_the_same_output_and_stdin(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=5)
    flx.add_fixture_pipeline("other", rows=5)
    status = warm(flx)
    cold_env = dict(flx.env, FLX_DAEMON="off")
    for args in (("--json", "pipeline", "list"), ("pipeline", "show", "slow"), ("plugin", "list")):
        assert flx(*args).stdout == flx(*args, env=cold_env).stdout
    # A confirmation prompt (only on a terminal) talks to the client's terminal.
    controller, terminal = pty.openpty()
    try:
        deleting = subprocess.Popen(
            [FLX, "pipeline", "delete", "other"],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=flx.env,
        )
        asked = b""
        deadline = time.monotonic() + 30
        while b"Delete pipeline other?" not in asked and time.monotonic() < deadline:
            if select.select([controller], [], [], 1)[0]:
                asked += os.read(controller, 1024)
        assert b"Delete pipeline other?" in asked
        os.write(controller, b"y\n")
        assert deleting.wait(timeout=60) == 0
    finally:
        os.close(controller)
        os.close(terminal)
    names = [p["name"] for p in json.loads(flx("--json", "pipeline", "list").stdout)["items"]]
    assert names == ["slow"]
    after = flx.daemon_status()
    assert after is not None and after["served"] == status["served"] + 5


def test_concurrent_warm_runs_are_independent_and_one_per_pipeline(warm_cli: Any) -> None:
    """Two runs at once on the embedded SQLite database, and a refused third."""
    flx = warm_cli
    flx.add_fixture_pipeline("slow", rows=150, sleep=0.03, state_every=20)
    flx.add_fixture_pipeline("other", rows=150, sleep=0.03, state_every=20)
    served = warm(flx)["served"]
    first = flx.start("run", "slow")
    second = flx.start("run", "other")
    try:
        flx.wait_running("slow")
        assert len(flx.daemon_status()["running"]) >= 2
        refused = flx("run", "slow", check=False)
        outputs = [p.communicate(timeout=120) for p in (first, second)]
    finally:
        for proc in (first, second):
            proc.kill()
            proc.communicate()
    assert refused.returncode == 1
    assert "already running" in refused.stderr
    assert first.returncode == second.returncode == 0
    assert "slow: succeeded" in outputs[0][0] and "other: succeeded" in outputs[1][0]
    assert "items: 150 records" in outputs[0][0] and "items: 150 records" in outputs[1][0]
    assert flx.daemon_status()["served"] >= served + 3


def test_a_run_under_nohup_survives_a_hangup(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=100, sleep=0.02, state_every=20)
    warm(flx)
    proc = subprocess.Popen(
        ["nohup", FLX, "run", "slow"],
        env=flx.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        flx.wait_running()
        proc.send_signal(signal.SIGHUP)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 0
    assert "slow: succeeded" in out and "items: 100 records" in out
    assert executed_by(flx, out)["pid"] != proc.pid, "the run goes through the daemon"


def test_with_stdout_closed_the_command_runs_cold_and_ends_as_cold(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=5)
    served = warm(flx)["served"]
    closed = subprocess.run(
        ["sh", "-c", f"{FLX} run slow >&-"], env=flx.env, capture_output=True, timeout=60
    )
    assert closed.returncode == 0, closed.stderr
    assert flx.daemon_status()["served"] == served  # not handed over: fd 1 would be the socket
    assert flx.state() == {"bookmarks": {"items": {"position": 5}}}


def test_a_stopped_daemon_does_not_hang_commands(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=5)
    pid = int(warm(flx)["pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        result = flx("run", "slow")
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert "slow: succeeded" in result.stdout
    assert waited < 60  # the client gave up on the daemon after a few seconds and ran cold
    executions = json.loads(flx("--json", "execution", "list").stdout)["items"]
    assert len(executions) == 1, "the command ran exactly once"


def test_a_daemon_started_by_a_command_holds_none_of_its_pipes(warm_cli: Any) -> None:
    flx = warm_cli
    flx.env["FLX_DAEMON"] = "off"
    flx.add_fixture_pipeline(rows=5)
    flx.env["FLX_DAEMON"] = "on"
    # The cold command starts a daemon; if that inherited fd 3 (the pipe), wc would wait
    # for the daemon to exit.
    piped = subprocess.run(
        ["sh", "-c", f"{FLX} --json pipeline list 3>&1 | wc -c"],
        env=flx.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0
    assert int(piped.stdout.strip()) > 0


def test_ctrl_z_stops_the_worker_and_fg_resumes_it(warm_cli: Any) -> None:
    flx = warm_cli
    flx.add_fixture_pipeline(rows=150, sleep=0.02, state_every=20)
    warm(flx)
    proc = flx.start("run", "slow")
    worker = None
    try:
        flx.wait_running()
        (worker,) = flx.daemon_status()["running"]
        proc.send_signal(signal.SIGTSTP)
        deadline = time.monotonic() + 10
        while not (stopped(proc.pid) and stopped(worker)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stopped(proc.pid) and stopped(worker)
        proc.send_signal(signal.SIGCONT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        if worker is not None:  # it holds the client's pipes: a failure must not hang here
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "slow: succeeded" in out and "items: 150 records" in out


def stopped(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.split(") ", 1)[1][:1] == "T"


def test_the_worker_writes_in_the_callers_io_encoding(warm_cli: Any) -> None:
    flx = warm_cli
    flx.env["FLX_DAEMON"] = "off"
    flx.add_fixture_pipeline(rows=5)
    flx("pipeline", "update", "slow", "--description", "caf\u00e9")
    # PYTHONIOENCODING is part of the fingerprint: a daemon started with it serves it.
    env = dict(flx.env, FLX_DAEMON="on", PYTHONIOENCODING="utf-16")

    def served() -> int:
        out = subprocess.run([FLX, "--json", "daemon", "status"], env=env, capture_output=True)
        return int(json.loads(out.stdout.decode("utf-16"))["served"])

    flx("daemon", "start", env=env)
    try:
        before = served()
        show = [FLX, "pipeline", "show", "slow"]
        warm_out = subprocess.run(show, env=env, capture_output=True)
        cold_out = subprocess.run(show, env=dict(env, FLX_DAEMON="off"), capture_output=True)
        assert "caf\u00e9".encode("utf-16-le") in cold_out.stdout
        assert warm_out.stdout == cold_out.stdout
        assert served() == before + 1
    finally:
        flx("daemon", "stop", env=env, check=False)  # the fixture stops only its own daemon
