"""Traces and health checks as an operator meets them: `flx serve` exporting one trace per
run to an OTLP receiver, and `flx doctor`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from flx_api.testing import free_port
from flx_cli.testing import FLX, ServeProcess, serve_environment
from flx_core.application import CreatePipeline, ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal
from flx_observability.testing import OtlpReceiver, ReceivedSpan

SYSTEM = Principal.system()
EMAIL, PASSWORD = "admin@example.com", "correct horse battery staple"


def prepare(home: Path, *messages: Any) -> None:
    """The built-in plugins, then ``messages``, in ``home``'s database."""
    from flx_meltano import RegisterBuiltinPlugins

    async def go() -> None:
        runtime = await bootstrap(FlxSettings(home=home, bcrypt_rounds=4), kind=ProcessKind.CLI)
        try:
            for message in (RegisterBuiltinPlugins(), *messages):
                result = await runtime.app.execute(message, principal=SYSTEM)
                assert result.ok, result.message
        finally:
            await runtime.aclose()

    asyncio.run(go())


def doctor(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLX, *args, "doctor"],
        env=serve_environment(home, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as started:
        yield started


def one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def test_a_run_requested_over_the_api_is_one_trace_from_request_to_target(
    flx_home: Path, tmp_path: Path, receiver: OtlpReceiver
) -> None:
    prepare(flx_home)
    env = serve_environment(
        flx_home,
        FLX_ADMIN_EMAIL=EMAIL,
        FLX_ADMIN_PASSWORD=PASSWORD,
        FLX_LOG_LEVEL="info",
        FLX_LOG_FORMAT="json",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        FLX_GRPC_PORT=str(free_port()),
    )
    out = tmp_path / "out"
    with ServeProcess(env, "--no-scheduler", cwd=tmp_path) as server:
        with grpc.insecure_channel(f"127.0.0.1:{env['FLX_GRPC_PORT']}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=30, wait_for_ready=True
            )
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        with server.client(server.login(EMAIL, PASSWORD)) as admin:
            created = admin.post(
                "/api/v1/pipelines",
                json={
                    "name": "sample",
                    "extractor": "tap-flx-sample",
                    "loader": "target-flx-jsonl",
                    "config": {
                        "tap-flx-sample": {"rows": 25},
                        "target-flx-jsonl": {"destination_path": str(out)},
                    },
                },
            )
            assert created.status_code == 201, created.text
            requested = admin.post("/api/v1/pipelines/sample/run")
            assert requested.status_code == 202, requested.text
            execution_id = requested.json()["id"]
            spans = receiver.wait_for(
                "run", "discovery", "tap", "target", "/grpc.health.v1.Health/Check"
            )
        output = server.output

    run = one(spans, "run")
    assert run.service == "flx-server"
    assert run.attributes["flx.execution_id"] == execution_id
    assert run.attributes["flx.pipeline"] == "sample"
    assert run.attributes["flx.status"] == "succeeded"
    # The sample tap emits ``rows`` records in each of its streams.
    streams = {
        k.removeprefix("flx.records."): v
        for k, v in one(spans, "tap").attributes.items()
        if k.startswith("flx.records.")
    }
    assert len(streams) >= 2 and set(streams.values()) == {25}
    assert run.attributes["flx.records"] == 25 * len(streams)
    trace = [s for s in spans if s.trace_id == run.trace_id]
    by_id = {s.span_id: s for s in trace}
    # request (FastAPI's server span) -> ... -> RunPipeline -> run -> discovery, tap, target
    command = by_id[run.parent_id]
    assert command.name == "RunPipeline"
    assert command.attributes["flx.message.kind"] == "command"
    root = command
    while root.parent_id:
        root = by_id[root.parent_id]
    assert root.name == "POST /api/v1/pipelines/{pipeline}/run"
    assert root.attributes["http.response.status_code"] == 202
    for name in ("discovery", "tap", "target"):
        assert one(trace, name).parent_id == run.span_id, name
    tap, target = one(trace, "tap"), one(trace, "target")
    assert tap.attributes["flx.plugin"] == "tap-flx-sample"
    assert tap.attributes["flx.records"] == 25 * len(streams) == target.attributes["flx.records"]
    assert one(trace, "discovery").attributes["flx.streams"] == len(streams)
    assert tap.attributes["flx.exit_code"] == 0
    # Other requests are traces of their own (the login, the pipeline's creation).
    assert any(s.name == "POST /api/v1/pipelines" and s.trace_id != run.trace_id for s in spans)
    assert {s.service for s in spans} == {"flx-server"}
    checked = one(spans, "/grpc.health.v1.Health/Check")
    assert checked.attributes["rpc.grpc.status_code"] == "OK"
    # No configuration value reaches a span.
    assert not any(str(out) in str(v) for s in spans for v in s.attributes.values())
    # The run's log lines carry the trace.
    started = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"run_started"' in line
    ]
    assert started and started[0]["trace_id"] == run.trace_id


def test_nothing_is_exported_without_an_endpoint(flx_home: Path) -> None:
    """The default: the API's no-op tracer, and the bus handles messages without a span."""
    script = (
        "import asyncio\n"
        "from opentelemetry import trace\n"
        "from flx_core.bootstrap import bootstrap\n"
        "async def main():\n"
        "    runtime = await bootstrap()\n"
        "    await runtime.aclose()\n"
        "    print(type(trace.get_tracer_provider()).__name__)\n"
        "    print([m.name for m in runtime.app.modules if m.middleware])\n"
        "asyncio.run(main())\n"
    )
    env = serve_environment(flx_home)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    done = subprocess.run(
        [str(Path(FLX).parent / "python"), "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The API's no-op provider, and no span middleware on the bus.
    assert done.stdout.split() == ["ProxyTracerProvider", "[]"]


def test_doctor_lists_every_check_and_exits_1_when_one_fails(flx_home: Path) -> None:
    healthy = doctor(flx_home, "--json")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    checks = {c["name"]: c for c in json.loads(healthy.stdout)}
    assert list(checks) == ["database", "disk", "scheduler"]
    assert all(c["ok"] and c["remedy"] == "" for c in checks.values())
    assert "free" in checks["disk"]["detail"]

    url = f"redis://:hunter2pw@127.0.0.1:{free_port()}/0"
    failing = doctor(flx_home, FLX_REDIS_URL=url, FLX_HEALTH_MIN_FREE_MB="1000000000")
    assert failing.returncode == 1
    lines = failing.stdout.splitlines()
    for name in ("database", "redis", "disk", "scheduler"):
        assert any(line.split()[:1] == [name] for line in lines), (name, failing.stdout)
    assert "hunter2pw" not in failing.stdout + failing.stderr
    as_json = doctor(flx_home, "--json", FLX_REDIS_URL=url)
    assert as_json.returncode == 1
    results = {c["name"]: c for c in json.loads(as_json.stdout)}
    assert not results["redis"]["ok"]
    assert "cannot reach Redis at" in results["redis"]["detail"]
    assert "FLX_REDIS_URL" in results["redis"]["remedy"]
    assert results["database"]["ok"] and results["disk"]["ok"]

    # A database it cannot even open: every check is still listed.
    blocker = flx_home / "a-file"
    blocker.write_text("")
    away = doctor(flx_home, "--json", FLX_DATABASE_URL=f"sqlite:///{blocker}/x.db")
    assert away.returncode == 1
    results = {c["name"]: c for c in json.loads(away.stdout)}
    assert list(results) == ["database", "disk", "scheduler"]
    assert not results["database"]["ok"] and "FLX_DATABASE_URL" in results["database"]["remedy"]
    assert results["scheduler"]["detail"] == "needs the database"
    assert results["disk"]["ok"]


def test_the_scheduler_check_reads_the_ticks_every_scheduler_records(flx_home: Path) -> None:
    """A scheduled pipeline and no scheduler: failing; once a scheduler went round (in
    another process, which records its tick in the database): ok."""
    prepare(
        flx_home,
        CreatePipeline(
            name="nightly",
            extractor="tap-flx-sample",
            loader="target-flx-jsonl",
            schedule="0 3 * * *",
        ),
    )
    alone = doctor(flx_home, "--json")
    assert alone.returncode == 1
    scheduler = {c["name"]: c for c in json.loads(alone.stdout)}["scheduler"]
    assert not scheduler["ok"]
    assert "1 scheduled pipeline(s) wait for it" in scheduler["detail"]
    assert "flx scheduler" in scheduler["remedy"]

    with subprocess.Popen(
        [FLX, "scheduler"],
        env=serve_environment(flx_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        try:
            deadline = time.monotonic() + 30
            while True:
                ticked = doctor(flx_home, "--json")
                if ticked.returncode == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)
        finally:
            proc.kill()
            proc.wait()
    assert ticked.returncode == 0, ticked.stdout
    scheduler = {c["name"]: c for c in json.loads(ticked.stdout)}["scheduler"]
    assert scheduler["detail"].startswith("last tick ")


def test_ready_is_built_from_the_same_checks(flx_home: Path, tmp_path: Path) -> None:
    """``/health/ready`` of `flx serve` runs the readiness part of the checks."""
    url = f"redis://:hunter2pw@127.0.0.1:{free_port()}/0"
    env = serve_environment(flx_home, FLX_REDIS_URL=url)
    with ServeProcess(env, "--no-scheduler", cwd=tmp_path) as server:
        ready = httpx.get(f"{server.url}/health/ready", timeout=10)
    assert ready.status_code == 503
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert set(checks) == {"database", "redis"}
    assert checks["redis"]["error"].startswith("cannot reach Redis at redis://")
    assert "hunter2pw" not in ready.text


@pytest.mark.redis
def test_the_workers_check_fails_when_a_due_run_waits_with_no_worker(
    flx_home: Path, redis_broker_url: str
) -> None:
    import uuid

    import redis

    from flx_meltano import RegisterBuiltinPlugins, RunPipeline

    queue = f"t-{uuid.uuid4().hex[:12]}"
    celery = {
        "FLX_EXECUTOR": "celery",
        "FLX_BROKER_URL": redis_broker_url,
        "FLX_DEFAULT_QUEUE": queue,
        "FLX_HEARTBEAT_SECONDS": "0.5",
        "FLX_HEARTBEAT_TIMEOUT": "1",
    }
    idle = doctor(flx_home, "--json", **celery)
    assert idle.returncode == 0, idle.stdout + idle.stderr
    checks = {c["name"]: c for c in json.loads(idle.stdout)}
    assert checks["broker"]["ok"] and checks["workers"]["ok"]

    settings = FlxSettings(
        home=flx_home,
        executor="celery",
        broker_url=redis_broker_url,
        default_queue=queue,
        heartbeat_seconds=0.5,
        heartbeat_timeout=1,
    )

    async def request() -> None:
        runtime = await bootstrap(settings)
        try:
            for message in (
                RegisterBuiltinPlugins(),
                CreatePipeline(
                    name="waiting", extractor="tap-flx-sample", loader="target-flx-jsonl"
                ),
                RunPipeline(pipeline="waiting"),
            ):
                assert (await runtime.app.execute(message, principal=SYSTEM)).ok
        finally:
            await runtime.aclose()

    try:
        asyncio.run(request())
        time.sleep(1.5)
        waiting = doctor(flx_home, "--json", **celery)
    finally:
        client = redis.Redis.from_url(redis_broker_url)
        client.delete(queue, f"_kombu.binding.{queue}")
        client.close()
    assert waiting.returncode == 1
    workers = {c["name"]: c for c in json.loads(waiting.stdout)}["workers"]
    assert not workers["ok"]
    assert workers["detail"].startswith("1 run(s) queued for over 1 s, taken by no worker")
    assert "flx worker" in workers["remedy"]
