"""`flx serve` as a user starts it: a process of its own that answers the API, runs what the
API asks in that process, fires schedules, reports its readiness, and stops cleanly.

Each test has its own FLX_HOME; what a test starts is killed by pid at its end, whatever
happened. The test reads and prepares the home through the application in this process
(as the system), never through the server it tests.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flx_api.testing import free_port
from flx_cli.testing import FLX, ServeProcess, serve_environment
from flx_core.application import AddPlugin, CreatePipeline, GetExecution, ProcessKind
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import PipelineExecution, PluginType, Principal
from flx_core.domain.ports import ExecutionFilter
from flx_core.testing.fakes import FakeClock
from flx_core.testing.processes import processes_with

SYSTEM = Principal.system()
EMAIL, PASSWORD = "admin@example.com", "correct horse battery staple"
ADMIN = {"FLX_ADMIN_EMAIL": EMAIL, "FLX_ADMIN_PASSWORD": PASSWORD}
CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"
ENDED = ("succeeded", "failed", "cancelled")


class Home:
    """The test's FLX_HOME from this process: its application, built once, to prepare what
    the server will find and to read what the server did."""

    def __init__(self, path: Path, clock: FakeClock | None = None) -> None:
        self.path = path
        self.settings = FlxSettings(home=path, bcrypt_rounds=4)
        self._runner = asyncio.Runner()
        self.runtime: Runtime = self._runner.run(
            bootstrap(self.settings, kind=ProcessKind.CLI, clock=clock)
        )

    def __call__(self, message: Any) -> Any:
        result = self._runner.run(self.runtime.app.execute(message, principal=SYSTEM))
        assert result.ok, result.message
        return result.value

    def close(self) -> None:
        self._runner.run(self.runtime.aclose())
        self._runner.close()

    def builtin_plugins(self) -> None:
        from flx_meltano import RegisterBuiltinPlugins

        self(RegisterBuiltinPlugins())

    def fixture_plugins(self) -> None:
        """tap-fixture (rows, sleep per row...) and target-fixture (writes a JSON file)."""
        bindir = self.path.parent / "bin"
        bindir.mkdir(exist_ok=True)
        for kind, name, script in (
            (PluginType.EXTRACTOR, "tap-fixture", "tap_fixture.py"),
            (PluginType.LOADER, "target-fixture", "target_fixture.py"),
        ):
            wrapper = bindir / name
            wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
            wrapper.chmod(0o755)
            self(
                AddPlugin(
                    plugin_type=kind, name=name, executable=str(wrapper), capabilities=["state"]
                )
            )

    def fixture_pipeline(self, name: str, **tap: Any) -> Path:
        out = self.path.parent / f"{name}.json"
        self(
            CreatePipeline(
                name=name,
                extractor="tap-fixture",
                loader="target-fixture",
                config={"tap-fixture": tap, "target-fixture": {"path": str(out)}},
            )
        )
        return out

    def execution(self, execution_id: str) -> PipelineExecution:
        found: PipelineExecution = self(GetExecution(execution_id=execution_id))
        return found

    def executions(self, pipeline: str) -> list[PipelineExecution]:
        async def listed() -> list[PipelineExecution]:
            async with self.runtime.app.uow_factory() as uow:
                page = await uow.executions.list(ExecutionFilter(pipeline_name=pipeline), limit=50)
            return list(page.items)

        return self._runner.run(listed())

    def wait(
        self, execution_id: str, until: Callable[[PipelineExecution], bool], deadline: float = 60
    ) -> PipelineExecution:
        end = time.monotonic() + deadline
        while True:
            execution = self.execution(execution_id)
            if until(execution):
                return execution
            if time.monotonic() > end:
                raise AssertionError(f"execution {execution_id} is still {execution.status}")
            time.sleep(0.2)


@pytest.fixture
def home(flx_home: Path) -> Iterator[Home]:
    opened = Home(flx_home)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def serve(flx_home: Path, tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """``serve(*args, **env)``: `flx serve --port 0 ARGS` on the test's home, started; at
    the end every process carrying that home is killed."""
    started: list[ServeProcess] = []

    def start(*args: str, **env: str) -> ServeProcess:
        variables = {
            "FLX_HEARTBEAT_SECONDS": "0.5",
            "FLX_TERMINATION_GRACE_SECONDS": "3",
            **env,
        }
        server = ServeProcess(
            serve_environment(flx_home, **variables),
            *args,
            cwd=tmp_path,
            name=f"serve-{len(started)}",
        )
        started.append(server)
        return server.start()

    try:
        yield start
    finally:
        for server in started:
            server.kill_all()


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid} (gone)"


def connectors(flx_home: Path) -> list[int]:
    return processes_with(b"_fixture.py", f"FLX_HOME={flx_home}")


def test_the_api_answers_and_its_runs_run_in_the_server_process(
    home: Home, serve: Any, tmp_path: Path
) -> None:
    home.builtin_plugins()
    server = serve(**ADMIN)
    assert "executor local (runs in this process), scheduler on, 1 process" in server.output
    assert f"(API docs: {server.url}/docs)" in server.output
    assert "no user yet" not in server.output  # FLX_ADMIN_* made the first admin
    with server.client() as anonymous:
        assert anonymous.get("/health/live").json()["status"] == "ok"
        ready = anonymous.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert [c["name"] for c in ready.json()["checks"]] == ["database"]
    with server.client(server.login(EMAIL, PASSWORD)) as admin:
        created = admin.post(
            "/api/v1/pipelines",
            json={
                "name": "sample",
                "extractor": "tap-flx-sample",
                "loader": "target-flx-jsonl",
                "config": {
                    "tap-flx-sample": {"rows": 25},
                    "target-flx-jsonl": {"destination_path": str(tmp_path / "out")},
                },
            },
        )
        assert created.status_code == 201, created.text
        requested = admin.post("/api/v1/pipelines/sample/run")
        assert requested.status_code == 202, requested.text
    execution = home.wait(requested.json()["id"], lambda e: e.status.value in ENDED)
    assert execution.status.value == "succeeded", execution.error
    assert execution.trigger == "api"
    assert execution.pid == server.pid  # run by the server, not by some other process
    assert execution.records > 0
    # An open live stream (it never ends by itself) does not hold the stop.
    token = server.login(EMAIL, PASSWORD)
    with server.client(token) as client, client.stream("GET", "/api/v1/events/stream") as live:
        assert live.status_code == 200
        assert server.stop(signal.SIGTERM, timeout=60) == 0


def test_ready_names_the_failing_dependency_without_its_password(serve: Any) -> None:
    closed = free_port()
    server = serve("--json", FLX_REDIS_URL=f"redis://:hunter2pw@127.0.0.1:{closed}/0")
    assert server.started() == {
        "url": server.url,
        "docs": f"{server.url}/docs",
        "executor": "local",
        "scheduler": True,
        "parts": ["api", "web", "grpc"],
        "grpc": "127.0.0.1:0",  # the tests' servers take any free gRPC port
        "processes": 1,
        "users": False,
    }
    assert "no user yet: create the first admin with `flx user create EMAIL --admin`" in (
        server.output
    )
    with server.client() as client:
        assert client.get("/health/live").status_code == 200
        ready = client.get("/health/ready")
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["database"]["status"] == "ok"
    assert checks["redis"]["status"] == "failing" and checks["redis"]["error"]
    assert ready.json()["status"] == "failing"
    assert "hunter2pw" not in ready.text


def test_with_celery_the_broker_is_checked_and_the_scheduler_can_be_left_out(serve: Any) -> None:
    closed = free_port()
    broker = f"amqp://guest:s3cretpw@127.0.0.1:{closed}//"
    server = serve("--no-scheduler", "--web-only", FLX_EXECUTOR="celery", FLX_BROKER_URL=broker)
    assert "executor celery (runs on `flx worker`), scheduler off" in server.output
    assert "scheduler_started" not in server.output
    with server.client() as client:
        ready = client.get("/health/ready")
        # --web-only: this process serves no REST API.
        assert client.get("/openapi.json").status_code == 404
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "failing"
    assert "s3cretpw" not in ready.text


def test_a_due_schedule_fires_inside_flx_serve(flx_home: Path, serve: Any) -> None:
    # The pipeline was scheduled every minute three minutes ago: a time is due (the one
    # missed, caught up once) as soon as a scheduler looks.
    past = Home(flx_home, clock=FakeClock(datetime.now(UTC) - timedelta(minutes=3)))
    try:
        past.fixture_plugins()
        past(
            CreatePipeline(
                name="every-minute",
                extractor="tap-fixture",
                loader="target-fixture",
                schedule="* * * * *",
                config={
                    "tap-fixture": {"rows": 5},
                    "target-fixture": {"path": str(flx_home.parent / "scheduled.json")},
                },
            )
        )
    finally:
        past.close()
    server = serve(FLX_SCHEDULER_TICK="0.2")
    home = Home(flx_home)
    try:
        deadline = time.monotonic() + 60
        while not (fired := home.executions("every-minute")):
            assert time.monotonic() < deadline, f"nothing fired:\n{server.output}"
            time.sleep(0.2)
        execution = home.wait(fired[-1].id, lambda e: e.status.value in ENDED)
    finally:
        home.close()
    assert (execution.status.value, execution.trigger) == ("succeeded", "schedule")
    assert execution.scheduled_for is not None and execution.pid == server.pid
    assert "schedule_fired" in server.output


def test_sigterm_lets_short_runs_finish_cancels_the_rest_and_leaves_no_process(
    home: Home, serve: Any, flx_home: Path
) -> None:
    home.fixture_plugins()
    short = home.fixture_pipeline("short", rows=60, sleep=0.1, state_every=5)  # ~6 s
    home.fixture_pipeline("long", rows=100_000, sleep=0.01)  # ~17 min
    waiting = home.fixture_pipeline("waiting", rows=5)
    server = serve("--shutdown-grace", "15", FLX_MAX_CONCURRENT_RUNS="2", **ADMIN)
    ids = {}
    with server.client(server.login(EMAIL, PASSWORD)) as admin:
        for name in ("short", "long", "waiting"):
            response = admin.post(f"/api/v1/pipelines/{name}/run")
            assert response.status_code == 202, response.text
            ids[name] = response.json()["id"]
    for name in ("short", "long"):
        home.wait(ids[name], lambda e: e.status.value == "running" and e.records > 0)
    # Both places of the process are taken: the third waits for one.
    assert home.execution(ids["waiting"]).status.value == "queued"
    assert connectors(flx_home)

    server.send(signal.SIGTERM)
    long_at_sigterm = home.execution(ids["long"]).records
    assert server.wait(timeout=60) == 0

    ended = {name: home.execution(eid) for name, eid in ids.items()}
    assert ended["short"].status.value == "succeeded"  # finished within the grace
    assert ended["short"].records == 60 and json.loads(short.read_text())
    assert ended["long"].status.value == "cancelled"  # still going when the grace ended
    assert ended["long"].records > long_at_sigterm  # it went on during the grace
    assert ended["waiting"].status.value == "cancelled"  # never started
    assert ended["waiting"].records == 0 and not waiting.exists()
    assert connectors(flx_home) == []
    assert "server_cancelling_runs" in server.output


def test_a_second_ctrl_c_cancels_the_runs_at_once(home: Home, serve: Any, flx_home: Path) -> None:
    home.fixture_plugins()
    home.fixture_pipeline("long", rows=100_000, sleep=0.01)
    server = serve("--shutdown-grace", "600", **ADMIN)
    with server.client(server.login(EMAIL, PASSWORD)) as admin:
        execution_id = admin.post("/api/v1/pipelines/long/run").json()["id"]
    home.wait(execution_id, lambda e: e.status.value == "running" and e.records > 0)
    server.send(signal.SIGINT)
    deadline = time.monotonic() + 60
    while "server_stopping_runs" not in server.output:  # the grace has begun
        assert time.monotonic() < deadline, server.output
        time.sleep(0.1)
    server.send(signal.SIGINT)
    assert server.wait(timeout=60) == 0  # not after the 600 s grace
    assert home.execution(execution_id).status.value == "cancelled"
    assert connectors(flx_home) == []


def test_several_workers_serve_and_all_stop_on_sigterm(serve: Any) -> None:
    server = serve("--workers", "2", **ADMIN)
    assert "2 processes" in server.output
    assert "each of the 2 processes counts the rate limits on its own" in server.output
    token = server.login(EMAIL, PASSWORD)
    with server.client(token) as admin:
        # Requests land on either worker; each built its own process and trusts the token.
        for _ in range(6):
            assert admin.get("/api/v1/auth/me").json()["email"] == EMAIL
            assert admin.get("/health/ready").status_code == 200
    workers = [p for p in server.processes() if p != server.pid]
    assert len(workers) >= 2
    assert server.stop(signal.SIGTERM, timeout=60) == 0
    # The workers ended before their parent; multiprocessing's helper process ends on
    # seeing the parent gone.
    deadline = time.monotonic() + 30
    while left := server.processes():
        assert time.monotonic() < deadline, f"still running: {[cmdline(p) for p in left]}"
        time.sleep(0.1)


def test_a_port_in_use_is_one_line_and_exit_1(flx_home: Path, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [FLX, "serve", "--port", str(port)],
            env=serve_environment(flx_home),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use (another `flx serve`?): stop that process "
        "or choose another port with --port or FLX_API_PORT"
    ]


def test_a_bad_setting_is_one_line_and_exit_2(flx_home: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [FLX, "serve"],
        env=serve_environment(flx_home, FLX_API_PORT="eighty"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "FLX_API_PORT" in lines[0], result.stderr


@pytest.mark.postgres
def test_a_database_it_cannot_use_is_one_line_and_exit_1(
    flx_home: Path, tmp_path: Path, empty_postgres_url: str
) -> None:
    def serve_on(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [FLX, "serve", "--port", "0"],
            env=serve_environment(flx_home, FLX_DATABASE_URL=url),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    unmigrated = serve_on(empty_postgres_url)
    assert unmigrated.returncode == 1
    assert unmigrated.stderr.strip().splitlines() == [
        f"error: the database at {empty_postgres_url} is not up to date: run `flx db upgrade` first"
    ]
    away = serve_on(f"postgresql://flx:pw-not-shown@127.0.0.1:{free_port()}/flx")
    assert away.returncode == 1
    lines = away.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot use the database at ")
    assert "pw-not-shown" not in away.stderr
