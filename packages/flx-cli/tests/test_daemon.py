"""`flx run` through the FLX daemon, with real processes: same results as a cold run, the
client's environment and directory, signals, a killed client, and `flx daemon` itself."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FLX = str(Path(sys.executable).parent / "flx")
CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"

pytestmark = pytest.mark.xdist_group("daemon")


class Flx:
    """`flx` in a fresh home, with a daemon of its own (its socket in a private directory)."""

    def __init__(self, work: Path, runtime: Path) -> None:
        self.work = work
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        self.env.update(
            FLX_HOME=str(work / "home"),
            FLX_DAEMON="auto",
            FLX_DAEMON_DIR=str(runtime),
            FLX_HEARTBEAT_SECONDS="0.5",
            FLX_TERMINATION_GRACE_SECONDS="3",
        )

    def __call__(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [FLX, *args],
            env=env or self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flx {' '.join(args)} failed: {result.stderr}")
        return result

    def status(self) -> dict[str, object] | None:
        result = self("--json", "daemon", "status", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    def warm(self) -> dict[str, object]:
        self("daemon", "start")
        status = self.status()
        assert status is not None
        return status

    def add_fixture_pipeline(self, name: str = "slow", **config: object) -> Path:
        bindir = self.work / "bin"
        bindir.mkdir(exist_ok=True)
        for plugin, script in (
            ("tap-fixture", "tap_fixture.py"),
            ("target-fixture", "target_fixture.py"),
        ):
            path = bindir / plugin
            path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
            path.chmod(0o755)
        if not (self.work / "home" / "flx.db").exists():
            self(
                "plugin",
                "add",
                "extractor",
                "tap-fixture",
                "--executable",
                str(bindir / "tap-fixture"),
                "--capabilities",
                "state",
            )
            self(
                "plugin",
                "add",
                "loader",
                "target-fixture",
                "--executable",
                str(bindir / "target-fixture"),
            )
        out = self.work / f"{name}.json"
        settings = [f"loader.path={out}", *(f"extractor.{k}={v}" for k, v in config.items())]
        args = [a for s in settings for a in ("--config", s)]
        self("pipeline", "create", name, "-e", "tap-fixture", "-l", "target-fixture", *args)
        return out

    def wait_running(self, pipeline: str = "slow", deadline: float = 30) -> dict[str, object]:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            listed = json.loads(self("--json", "execution", "list", "-p", pipeline).stdout)
            running = [e for e in listed["items"] if e["status"] == "running"]
            if running and running[0]["records"] > 0:
                return dict(running[0])
            time.sleep(0.3)
        raise AssertionError("the run never got going")

    def show(self, execution_id: str) -> dict[str, object]:
        return dict(json.loads(self("--json", "execution", "show", execution_id).stdout))


@pytest.fixture
def flx(tmp_path: Path) -> Iterator[Flx]:
    # A short private directory: a socket path must stay under 108 bytes.
    runtime = Path(tempfile.mkdtemp(prefix="flxd-", dir="/tmp"))
    cli = Flx(tmp_path, runtime)
    try:
        yield cli
    finally:
        status = cli.status()
        cli("daemon", "stop", check=False)
        if status is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(status["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
        shutil.rmtree(runtime, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(") ", 1)[1][:1] != "Z"


def connector_pids(work: Path) -> list[int]:
    """Live fixture connectors started for this test (their environment names its home)."""
    marker = f"FLX_HOME={work / 'home'}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"_fixture.py" in cmdline and marker in environ and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_a_cold_run_starts_the_daemon_and_the_next_run_uses_it(flx: Flx) -> None:
    flx.add_fixture_pipeline(rows=30, state_every=10)
    cold = flx("run", "slow")
    assert "slow: succeeded" in cold.stdout and "items: 30 records" in cold.stdout
    deadline = time.monotonic() + 30
    while flx.status() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    before = flx.status()
    assert before is not None, "a cold run in auto mode starts a daemon"
    warm = flx("run", "slow", "--full-refresh")
    assert "slow: succeeded" in warm.stdout and "items: 30 records" in warm.stdout
    after = flx.status()
    assert after is not None and after["served"] == int(before["served"]) + 1  # type: ignore[call-overload]
    executions = json.loads(flx("--json", "execution", "list").stdout)["items"]
    assert [e["status"] for e in executions] == ["succeeded", "succeeded"]
    assert json.loads(flx("state", "get", "slow").stdout) == {
        "bookmarks": {"items": {"position": 30}}
    }


def test_flx_daemon_off_runs_in_process_and_starts_nothing(flx: Flx) -> None:
    flx.add_fixture_pipeline(rows=5)
    env = dict(flx.env, FLX_DAEMON="off")
    assert "slow: succeeded" in flx("run", "slow", env=env).stdout
    time.sleep(1.0)
    assert flx.status() is None


def test_the_worker_takes_the_clients_environment_directory_and_exit_code(flx: Flx) -> None:
    flx.add_fixture_pipeline(rows=50)
    flx.warm()
    # A setting given only in the client's environment (Meltano's naming) reaches the tap.
    env = dict(flx.env, TAP_FIXTURE_ROWS="7")
    result = flx("--json", "run", "slow", env=env)
    assert json.loads(result.stdout)["records"] == 7
    # FLX_HOME defaults to .flx in the working directory: the worker must work there too.
    project = flx.work / "project"
    project.mkdir()
    local = {k: v for k, v in flx.env.items() if k != "FLX_HOME"}
    missing = flx("run", "nothing-here", env=local, cwd=project, check=False)
    assert missing.returncode == 1
    assert "pipeline 'nothing-here' not found" in missing.stderr
    assert (project / ".flx" / "flx.db").exists()
    status = flx.status()
    assert status is not None and status["served"] == 2


def test_a_failing_run_reports_as_in_process(flx: Flx) -> None:
    flx.add_fixture_pipeline(rows=5, garbage="true")
    flx.warm()
    warm = flx("run", "slow", check=False)
    cold = flx("run", "slow", check=False, env=dict(flx.env, FLX_DAEMON="off"))
    assert warm.returncode == cold.returncode == 1
    first = lambda text: [line for line in text.splitlines() if line.startswith("error:")]  # noqa: E731
    assert first(warm.stdout + warm.stderr) == first(cold.stdout + cold.stderr) != []


def test_ctrl_c_on_the_client_cancels_the_run_in_the_worker(flx: Flx) -> None:
    flx.add_fixture_pipeline(rows=400, sleep=0.03, state_every=20)
    flx.warm()
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=flx.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        running = flx.wait_running()
        assert connector_pids(flx.work), "tap and target should be running"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1
    assert "cancelling" in err
    assert flx.show(str(running["id"]))["status"] == "cancelled"
    assert connector_pids(flx.work) == []


def test_a_killed_client_stops_its_run_and_the_next_run_loads_each_row_once(flx: Flx) -> None:
    out = flx.add_fixture_pipeline(rows=400, sleep=0.03, state_every=20)
    flx.warm()
    proc = subprocess.Popen(
        [FLX, "run", "slow"], env=flx.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    running = flx.wait_running()
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while flx.show(str(running["id"]))["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    stopped = flx.show(str(running["id"]))
    assert stopped["status"] == "cancelled"
    assert connector_pids(flx.work) == []
    flx("pipeline", "update", "slow", "--config", "extractor.sleep=0")
    assert "slow: succeeded" in flx("run", "slow").stdout
    rows = json.loads(out.read_text())["items"]
    assert sorted(int(k) for k in rows) == list(range(400))


def test_daemon_start_status_stop(flx: Flx) -> None:
    assert flx("daemon", "status", check=False).returncode == 1
    status = flx.warm()
    assert alive(int(status["pid"]))  # type: ignore[call-overload]
    again = flx("daemon", "start")
    assert f"already running (pid {status['pid']})" in again.stdout
    assert "stopped" in flx("daemon", "stop").stdout
    deadline = time.monotonic() + 10
    while alive(int(status["pid"])) and time.monotonic() < deadline:  # type: ignore[call-overload]
        time.sleep(0.1)
    assert not alive(int(status["pid"]))  # type: ignore[call-overload]
    assert flx("daemon", "status", check=False).returncode == 1


def test_a_garbled_request_does_not_hurt_the_daemon(flx: Flx) -> None:
    import socket

    status = flx.warm()
    for junk in (b"\x00\x00\x00\x05nope!", b"\xff\xff\xff\xff", b""):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(status["socket"]))
            sock.sendall(junk)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(10)
            sock.recv(100)
    assert flx.status() is not None
