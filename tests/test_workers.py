"""The distributed executor end to end: real `flx worker` processes (Celery, prefork) on
RabbitMQ and on Redis, one PostgreSQL database, runs requested from other processes.

Each test gets a database of its own, a queue of its own on the broker (deleted at the end)
and marks every process it starts, and everything those start (pool children, taps,
targets), with a variable of its own; at its end, whatever its outcome, it kills by pid the
processes it started and any marked process left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flx_core.testing.processes import alive, parent_of

FLX = str(Path(sys.executable).parent / "flx")
ROOT = Path(__file__).resolve().parents[1]
CONNECTORS = ROOT / "packages" / "flx-meltano" / "tests" / "engine" / "connectors"


def wait_until(check: Callable[[], Any], deadline: float, what: str, why: Callable[[], str]) -> Any:
    """``check()``'s first truthy value within ``deadline`` seconds, or fail saying ``what``
    (and ``why()``: the state of things, for the reader of a failure)."""
    end = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what} (within {deadline:g}s)\n{why()}")
        time.sleep(0.1)


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Cluster:
    """The FLX installation of one test: a home, a PostgreSQL database, a broker queue,
    workers and requesters, each a real process."""

    def __init__(self, work: Path, database_url: str, broker_url: str) -> None:
        self.work = work
        self.database_url = database_url
        self.broker_url = broker_url
        self.tag = uuid.uuid4().hex[:12]
        self.queue = f"t-{self.tag}"
        self.queues = {self.queue}
        self.started: list[subprocess.Popen[bytes]] = []
        self.workers: list[Worker] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        env.update(
            FLX_HOME=str(work / "home"),
            FLX_DATABASE_URL=database_url,
            FLX_EXECUTOR="celery",
            FLX_BROKER_URL=broker_url,
            FLX_DEFAULT_QUEUE=self.queue,
            FLX_DAEMON="off",
            FLX_HEARTBEAT_SECONDS="1",
            FLX_HEARTBEAT_TIMEOUT="10",
            FLX_TERMINATION_GRACE_SECONDS="3",
            FLX_LOG_FORMAT="json",
            FLX_TEST_CLUSTER=self.tag,
        )
        self.env = env

    # -- processes ---------------------------------------------------------------------

    def flx(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [FLX, *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"flx {' '.join(args)} failed:\n{done.stderr}\n{self.why()}")
        return done

    def start(self, *args: str, log: str, env: dict[str, str] | None = None) -> Worker:
        """`flx ARGS` in the background, its output into ``log``."""
        path = self.work / log
        with path.open("wb") as out:
            proc = subprocess.Popen(
                [FLX, *args],
                env={**self.env, **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(proc)
        return Worker(proc, path)

    def start_worker(
        self, *, concurrency: int = 1, queue: str | None = None, grace: float = 10
    ) -> Worker:
        name = f"worker-{len(self.workers) + 1}.log"
        args = ["worker", "--concurrency", str(concurrency), "--shutdown-grace", str(grace)]
        if queue is not None:
            self.queues.add(queue)
            args += ["--queues", queue]
        worker = self.start(*args, log=name)
        self.workers.append(worker)
        wait_until(
            lambda: " ready." in worker.output() or worker.proc.poll() is not None,
            60,
            "the worker never got ready",
            self.why,
        )
        assert worker.proc.poll() is None, f"the worker stopped:\n{worker.output()}"
        return worker

    def marked(self, cmdline_part: bytes = b"") -> list[int]:
        """Living processes carrying this cluster's mark (and ``cmdline_part``)."""
        wanted = f"FLX_TEST_CLUSTER={self.tag}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if cmdline_part not in (entry / "cmdline").read_bytes():
                    continue
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if wanted in environ and alive(int(entry.name)):
                found.append(int(entry.name))
        return found

    def connectors(self) -> list[int]:
        return self.marked(b"_fixture.py")

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for _ in range(3):  # a dying worker's children die with it; anything else, here
            left = self.marked()
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        for queue in self.queues:
            with contextlib.suppress(Exception):
                delete_queue(self.broker_url, queue)

    # -- the installation --------------------------------------------------------------

    def settings(self, **overrides: Any) -> Any:
        from flx_core.config import FlxSettings

        return FlxSettings(
            home=self.work / "home",
            database_url=self.database_url,
            executor="celery",
            broker_url=self.broker_url,
            default_queue=self.queue,
            heartbeat_seconds=1,
            heartbeat_timeout=10,
            **overrides,
        )

    def add_pipelines(self, names: list[str], **tap: Any) -> dict[str, Path]:
        """Pipelines ``names``: the fixture tap (settings ``tap``) into the fixture target,
        which writes ``<work>/<name>.json``; their output files."""
        from flx_core.application import AddPlugin, CreatePipeline, ListPlugins
        from flx_core.bootstrap import bootstrap
        from flx_core.domain import Principal

        bindir = self.work / "bin"
        bindir.mkdir(exist_ok=True)
        system = Principal.system()
        outputs = {name: self.work / f"{name}.json" for name in names}

        async def go() -> None:
            runtime = await bootstrap(self.settings())
            try:
                plugins = await runtime.app.execute(ListPlugins(), principal=system)
                known = {p.name for p in plugins.value} if plugins.ok else set()
                for kind, plugin, script in (
                    ("extractor", "tap-fixture", "tap_fixture.py"),
                    ("loader", "target-fixture", "target_fixture.py"),
                ):
                    if plugin in known:
                        continue
                    path = bindir / plugin
                    path.write_text(
                        f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n'
                    )
                    path.chmod(0o755)
                    extra = {"capabilities": ["state"]} if kind == "extractor" else {}
                    added = await runtime.app.execute(
                        AddPlugin(plugin_type=kind, name=plugin, executable=str(path), **extra),
                        principal=system,
                    )
                    assert added.ok, added.message
                for name, out in outputs.items():
                    created = await runtime.app.execute(
                        CreatePipeline(
                            name=name,
                            extractor="tap-fixture",
                            loader="target-fixture",
                            config={"tap-fixture": tap, "target-fixture": {"path": str(out)}},
                        ),
                        principal=system,
                    )
                    assert created.ok, created.message
            finally:
                await runtime.aclose()

        asyncio.run(go())
        return outputs

    def run_detached(self, pipeline: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        done = self.flx("--json", "run", pipeline, "--detach", env=env)
        return dict(json.loads(done.stdout))

    # -- what the database says ---------------------------------------------------------

    def executions(self) -> list[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            rows = conn.execute(
                "SELECT id, pipeline_name, status, host, pid, records, error, started_at, "
                "finished_at, cancel_requested FROM executions ORDER BY created_at"
            ).fetchall()
        return [dict(row) for row in rows]

    def execution(self, execution_id: str) -> dict[str, Any]:
        for row in self.executions():
            if row["id"] == execution_id:
                return row
        raise AssertionError(f"no execution {execution_id}")

    def wait_status(self, execution_id: str, statuses: set[str], deadline: float = 60) -> Any:
        return wait_until(
            lambda: (row := self.execution(execution_id))["status"] in statuses and row,
            deadline,
            f"execution {execution_id} never became {'/'.join(sorted(statuses))}",
            self.why,
        )

    def wait_running(self, execution_id: str, deadline: float = 60) -> dict[str, Any]:
        """The execution, once it runs and has moved records."""
        return wait_until(
            lambda: (
                (row := self.execution(execution_id))["status"] == "running"
                and row["records"] > 0
                and row
            ),
            deadline,
            f"execution {execution_id} never got going",
            self.why,
        )

    def why(self) -> str:
        lines = ["executions:"]
        with contextlib.suppress(Exception):
            for row in self.executions():
                lines.append(
                    f"  {row['id'][:12]} {row['pipeline_name']} {row['status']} "
                    f"pid={row['pid']} records={row['records']} error={row['error']!r}"
                )
        for worker in self.workers:
            lines.append(f"--- worker {worker.pid} (exit {worker.proc.poll()}):")
            lines.extend(worker.output().splitlines()[-25:])
        return "\n".join(lines)


def delete_queue(url: str, name: str) -> None:
    """Delete queue ``name`` and its exchange; on Redis also the messages a killed worker
    left unacknowledged, which a later worker on the database would otherwise give back."""
    from kombu import Connection, Exchange, Queue

    with Connection(url, connect_timeout=5) as conn:
        channel = conn.default_channel
        queue = Queue(name, Exchange(name), name, channel=channel)
        queue.declare()  # so that the deletion knows its binding (Redis keeps it apart)
        queue.delete()
        Exchange(name, channel=channel).delete()
    if not url.startswith("redis"):
        return
    import redis

    client = redis.Redis.from_url(url)
    try:
        for tag, value in client.hgetall("unacked").items():
            with contextlib.suppress(ValueError, TypeError):
                _message, exchange, routing_key = json.loads(value)
                if name in (exchange, routing_key):
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
    finally:
        client.close()


@pytest.fixture
def cluster(
    flx_home: Path, tmp_path: Path, postgres_url: str, broker_url: str
) -> Iterator[Cluster]:
    made = Cluster(tmp_path, postgres_url, broker_url)
    try:
        yield made
    finally:
        made.close()


def rows_of(output: Path) -> dict[str, Any]:
    """What the fixture target holds: records by key (one per key, by construction)."""
    data = json.loads(output.read_text()) if output.exists() else {}
    return dict(data.get("items", {}))


# -- refusals (quick) ------------------------------------------------------------------


def test_the_worker_refuses_the_local_executor_and_an_unreachable_broker(
    flx_home: Path, tmp_path: Path
) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
    base.update(FLX_HOME=str(tmp_path / "home"), FLX_DAEMON="off")

    local = subprocess.run(
        [FLX, "worker"], env=base, capture_output=True, text=True, timeout=60, check=False
    )
    assert local.returncode == 2
    assert "FLX_EXECUTOR=celery" in local.stderr
    assert len(local.stderr.strip().splitlines()) == 1

    missing = subprocess.run(
        [FLX, "worker"],
        env={**base, "FLX_EXECUTOR": "celery"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert "FLX_BROKER_URL" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1

    password = "n0t-To-b3-5een"
    for url in (
        f"amqp://guest:{password}@127.0.0.1:1//",
        f"redis://:{password}@127.0.0.1:1/0",
    ):
        env = {**base, "FLX_EXECUTOR": "celery", "FLX_BROKER_URL": url}
        down = subprocess.run(
            [FLX, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert down.returncode == 1
        assert "cannot reach the broker at" in down.stderr
        assert "********@127.0.0.1:1" in down.stderr
        assert password not in down.stderr + down.stdout
        assert len(down.stderr.strip().splitlines()) == 1, down.stderr


@pytest.mark.postgres
def test_the_worker_refuses_a_database_without_the_schema(
    flx_home: Path, tmp_path: Path, broker_url: str, empty_postgres_url: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
    env.update(
        FLX_HOME=str(tmp_path / "home"),
        FLX_DAEMON="off",
        FLX_EXECUTOR="celery",
        FLX_BROKER_URL=broker_url,
        FLX_DATABASE_URL=empty_postgres_url,
    )
    refused = subprocess.run(
        [FLX, "worker"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert refused.returncode == 1
    assert "is not up to date: run `flx db upgrade` first" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


# -- the distributed executor at work (slow) --------------------------------------------


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_runs_spread_over_the_workers_and_requests_from_elsewhere_complete(
    cluster: Cluster,
) -> None:
    outputs = cluster.add_pipelines(["s0", "s1", "s2", "s3"], rows=10, sleep=0.15)
    workers = [cluster.start_worker(), cluster.start_worker()]

    detached = [cluster.run_detached(name) for name in ("s0", "s1", "s2")]
    for requested in detached:
        assert requested["status"] == "queued", "a detached request returns before the run"
    # A requester that waits: it follows the run on a worker through the database.
    follower = cluster.flx("run", "s3")
    assert "s3: succeeded" in follower.stdout + follower.stderr
    assert "items: 10 records" in follower.stdout + follower.stderr

    ran_by = set()
    for requested in detached:
        row = cluster.wait_status(requested["id"], {"succeeded", "failed", "cancelled"})
        assert row["status"] == "succeeded", cluster.why()
    for row in cluster.executions():
        assert row["status"] == "succeeded" and row["records"] == 10
        ran_by.add(parent_of(row["pid"]))
    assert ran_by == {w.pid for w in workers}, "both workers ran pipelines"
    for output in outputs.values():
        assert sorted(rows_of(output), key=int) == [str(i) for i in range(10)]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_a_worker_killed_mid_run_leaves_no_process_and_the_next_run_completes(
    cluster: Cluster,
) -> None:
    rows = 120
    output = cluster.add_pipelines(["long"], rows=rows, sleep=0.05, state_every=10)["long"]
    workers = {w.pid: w for w in (cluster.start_worker(), cluster.start_worker())}

    lost = cluster.run_detached("long")["id"]
    running = cluster.wait_running(lost)
    child = running["pid"]
    victim = parent_of(child)
    assert victim in workers
    assert len(cluster.connectors()) == 2, "tap and target run"

    os.kill(victim, signal.SIGKILL)
    wait_until(
        lambda: not alive(child) and not cluster.connectors(),
        15,
        "the killed worker's pool child, tap or target is still running",
        cluster.why,
    )
    # The reaper (`flx execution list` runs it) fails the run once its process is seen
    # gone, or its heartbeat is FLX_HEARTBEAT_TIMEOUT old.
    reaped = wait_until(
        lambda: cluster.flx("execution", "list") and cluster.execution(lost)["status"] == "failed",
        40,
        "the lost run was never marked failed",
        cluster.why,
    )
    assert reaped
    row = cluster.execution(lost)
    assert row["error"].startswith("worker lost"), row["error"]
    moved = row["records"]

    again = cluster.flx("run", "long", check=False)
    assert again.returncode == 0, again.stdout + again.stderr + cluster.why()
    survivor = next(pid for pid in workers if pid != victim)
    latest = cluster.executions()[-1]
    assert latest["status"] == "succeeded" and parent_of(latest["pid"]) == survivor
    stored = rows_of(output)
    assert sorted(stored, key=int) == [str(i) for i in range(rows)], "every row, once"
    assert all(stored[str(i)]["id"] == i for i in range(rows))
    # The lost run's message, given back by the broker, never ran it again.
    after = cluster.execution(lost)
    assert after["status"] == "failed" and after["records"] == moved


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_cancel_from_another_process_stops_a_run_on_a_worker(cluster: Cluster) -> None:
    cluster.add_pipelines(["slow"], rows=2000, sleep=0.05)
    cluster.add_pipelines(["quick"], rows=5)
    worker = cluster.start_worker()

    execution_id = cluster.run_detached("slow")["id"]
    cluster.wait_running(execution_id)
    assert len(cluster.connectors()) == 2
    cluster.flx("execution", "cancel", execution_id)
    row = cluster.wait_status(execution_id, {"cancelled", "failed", "succeeded"}, 30)
    assert row["status"] == "cancelled", cluster.why()
    assert row["records"] < 2000
    wait_until(lambda: not cluster.connectors(), 10, "tap or target outlived", cluster.why)

    # The worker goes on serving.
    assert cluster.flx("run", "quick").returncode == 0
    assert worker.proc.poll() is None


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_a_queued_execution_cancelled_before_a_worker_takes_it_never_starts(
    cluster: Cluster,
) -> None:
    output = cluster.add_pipelines(["p"], rows=5)["p"]
    idle = f"{cluster.queue}-idle"
    cluster.queues.add(idle)
    cluster.start_worker()  # on the cluster's queue, not on ``idle``

    execution_id = cluster.run_detached("p", env={"FLX_DEFAULT_QUEUE": idle})["id"]
    cluster.flx("execution", "cancel", execution_id)
    assert cluster.execution(execution_id)["status"] == "cancelled"

    late = cluster.start_worker(queue=idle)
    wait_until(
        lambda: f"flx.run_execution[{execution_id}] succeeded" in late.output(),
        30,
        "the worker on the idle queue never took the cancelled run's message",
        cluster.why,
    )
    row = cluster.execution(execution_id)
    assert row["status"] == "cancelled"
    assert row["host"] is None and row["records"] == 0, "it never started"
    assert not output.exists(), "no connector ran"
    # Its cancel freed the pipeline: the next run goes.
    assert cluster.flx("run", "p").returncode == 0
    assert len(rows_of(output)) == 5


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_max_running_holds_across_workers_for_simultaneous_requests(cluster: Cluster) -> None:
    names = [f"m{i}" for i in range(20)]
    cluster.add_pipelines(names, rows=10, sleep=0.1)
    cluster.env["FLX_MAX_RUNNING"] = "2"
    cluster.start_worker(concurrency=3)
    cluster.start_worker(concurrency=3)

    most = [0]
    stop = threading.Event()

    def sample() -> None:
        import psycopg

        with psycopg.connect(cluster.database_url, autocommit=True) as conn:
            while not stop.is_set():
                row = conn.execute(
                    "SELECT count(*) FROM executions WHERE status = 'running'"
                ).fetchone()
                most[0] = max(most[0], int(row[0]) if row else 0)
                time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        finished = asyncio.run(request_all(cluster.settings(max_running=2), names))
    finally:
        stop.set()
        sampler.join(timeout=10)
    assert [e.status.value for e in finished] == ["succeeded"] * 20, cluster.why()
    assert most[0] <= 2, f"{most[0]} executions ran at once with FLX_MAX_RUNNING=2"
    assert most[0] == 2, "the runs never overlapped: the limit was not put to the test"


async def request_all(settings: Any, names: list[str]) -> list[Any]:
    """Request a run of each pipeline at once, from one process; their ends."""
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RunPipeline

    runtime = await bootstrap(settings)
    try:
        results = await asyncio.gather(
            *(
                runtime.app.execute(RunPipeline(pipeline=name), principal=Principal.system())
                for name in names
            )
        )
        assert all(r.ok for r in results), [r.message for r in results if not r.ok]
        assert runtime.executor is not None
        return await asyncio.wait_for(
            asyncio.gather(*(runtime.executor.wait(r.value.id) for r in results)), 180
        )
    finally:
        await runtime.aclose()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_sigterm_stops_a_worker_whose_runs_end_failed_after_the_grace(cluster: Cluster) -> None:
    cluster.add_pipelines(["slow"], rows=2000, sleep=0.05)
    worker = cluster.start_worker(grace=1)

    execution_id = cluster.run_detached("slow")["id"]
    cluster.wait_running(execution_id)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0, cluster.why()
    row = cluster.execution(execution_id)
    assert row["status"] == "failed", cluster.why()
    assert row["error"].startswith("worker shut down"), row["error"]
    assert row["records"] < 2000
    assert not cluster.connectors(), "tap or target outlived the worker"
    assert not cluster.marked(b"flx worker"), "a pool child outlived the worker"


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.xdist_group("workers")
def test_idempotency_keys_and_retries_hold_through_the_workers(cluster: Cluster) -> None:
    import psycopg

    cluster.add_pipelines(["flaky"], rows=10, fail_after=3)
    cluster.flx("pipeline", "update", "flaky", "--retries", "2", "--retry-delay", "0")
    cluster.start_worker()
    cluster.start_worker()
    first = json.loads(
        cluster.flx("--json", "run", "flaky", "--detach", "--idempotency-key", "k-1").stdout
    )
    again = json.loads(
        cluster.flx("--json", "run", "flaky", "--detach", "--idempotency-key", "k-1").stdout
    )
    assert again["id"] == first["id"]

    def attempts() -> list[tuple[Any, ...]]:
        with psycopg.connect(cluster.database_url) as conn:
            return conn.execute(
                "SELECT attempt, trigger, status, retry_of, host FROM executions ORDER BY attempt"
            ).fetchall()

    ended = wait_until(
        lambda: (
            (rows := attempts()) and len(rows) == 3 and all(r[2] == "failed" for r in rows) and rows
        ),
        90,
        "three failed attempts",
        cluster.why,
    )
    assert [(a, t) for a, t, *_ in ended] == [(1, "manual"), (2, "retry"), (3, "retry")]
    assert [r[3] for r in ended] == [None, first["id"], first["id"]]
    assert all(r[4] for r in ended), "each attempt ran on a worker"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.xdist_group("workers")
def test_a_run_on_a_worker_continues_the_trace_of_the_command_that_queued_it(
    flx_home: Path, tmp_path: Path, postgres_url: str, redis_broker_url: str
) -> None:
    """The command's span is recorded here (in memory), the worker's spans reach an OTLP
    receiver: the worker's run is a child of the command that queued it, across the broker,
    with its discovery, tap and target as children and the records they moved."""
    from opentelemetry import trace

    from flx_core.application import CreatePipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins, RunPipeline
    from flx_observability.testing import OtlpReceiver, recording_spans

    system = Principal.system()
    cluster = Cluster(tmp_path, postgres_url, redis_broker_url)
    try:
        with OtlpReceiver() as receiver, recording_spans() as exporter:
            cluster.env.update(
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_BSP_SCHEDULE_DELAY="100"
            )
            cluster.start_worker()

            async def request() -> str:
                runtime = await bootstrap(cluster.settings())
                try:
                    for message in (
                        RegisterBuiltinPlugins(),
                        CreatePipeline(
                            name="traced",
                            extractor="tap-flx-sample",
                            loader="target-flx-jsonl",
                            config={
                                "tap-flx-sample": {"rows": 30, "streams": ["users"]},
                                "target-flx-jsonl": {"destination_path": str(tmp_path / "o")},
                            },
                        ),
                    ):
                        assert (await runtime.app.execute(message, principal=system)).ok
                    # What an adapter's request span is to the command it sends.
                    with trace.get_tracer("test").start_as_current_span("request"):
                        queued = await runtime.app.execute(
                            RunPipeline(pipeline="traced"), principal=system
                        )
                    assert queued.ok, queued.message
                    return str(queued.value.id)
                finally:
                    await runtime.aclose()

            execution_id = asyncio.run(request())
            cluster.wait_status(execution_id, {"succeeded"})
            remote = receiver.wait_for("run", "discovery", "tap", "target")
            local = {s.name: s for s in exporter.get_finished_spans()}
    finally:
        cluster.close()

    command, root = local["RunPipeline"], local["request"]
    assert command.parent is not None and command.parent.span_id == root.context.span_id
    run = next(s for s in remote if s.name == "run")
    assert run.service == "flx-worker"
    assert run.trace_id == format(root.context.trace_id, "032x")
    assert run.parent_id == format(command.context.span_id, "016x")
    assert run.attributes["flx.execution_id"] == execution_id
    assert run.attributes["flx.records"] == 30
    children = {s.name: s for s in remote if s.parent_id == run.span_id}
    assert set(children) == {"discovery", "tap", "target"}
    assert children["tap"].attributes["flx.records.users"] == 30
    assert children["target"].attributes["flx.records"] == 30
