"""Streams, health and reflection through a real server: a live run's log to its end,
Watch receiving a run's start and finish for a subscription, a cancel reaching the run's
processes, deadlines, readiness on the health service, reflection, and the clients' token
refresh."""

from __future__ import annotations

import asyncio
import itertools
import queue
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from pydantic import SecretStr

from flx_auth import Login
from flx_core.application import ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.domain import Principal
from flx_core.testing.fakes import FakeClock
from flx_core.testing.processes import alive
from flx_grpc import SERVICE_NAMES
from flx_grpc._generated.flx.v1 import execution_service_pb2 as executions
from flx_grpc.client import AsyncFlxGrpcClient, FlxGrpcClient, subscribe, unsubscribe

from .conftest import EMAILS, PASSWORD, Role, Running, start

#: The module's tests share one server: one worker runs them all.
pytestmark = pytest.mark.xdist_group("grpc-streams")

#: Whether the server's readiness probe passes (the health test turns it off).
READY = {"ok": True}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    async def probe() -> bool:
        return READY["ok"]

    yield from start(tmp_path_factory.mktemp("grpc-streams"), ready=lambda runtime: probe)


def sample(server: Running, name: str, rows: int) -> None:
    server.operator.create_pipeline(
        name,
        extractor="tap-flx-sample",
        loader="target-flx-jsonl",
        config={"tap-flx-sample": {"rows": rows}},
    )


def test_stream_logs_follows_a_live_run_to_its_end(server: Running) -> None:
    sample(server, "live", 50_000)
    execution = server.operator.run_pipeline("live")
    items = list(server.viewer.stream_logs(execution.id, timeout=120))

    chunks = [i.chunk for i in items if i.HasField("chunk")]
    assert items[-1].HasField("end") and len(chunks) == len(items) - 1
    assert items[-1].end.status == "succeeded" and items[-1].end.id == execution.id
    # The chunks follow each other byte for byte, from the start to the end of the log.
    assert chunks[0].offset == 0
    assert all(b.offset == a.next_offset for a, b in itertools.pairwise(chunks))
    text = "".join(c.data for c in chunks)
    assert "run succeeded" in text
    whole = server.viewer.stubs.executions.GetExecutionLog(
        executions.GetExecutionLogRequest(execution_id=execution.id),
        metadata=server.viewer.metadata(),
    )
    assert whole.chunk.data == text and chunks[-1].next_offset == whole.size
    # Resumed from an offset, it gives the rest.
    rest = list(server.viewer.stream_logs(execution.id, offset=chunks[-1].offset, timeout=30))
    assert rest[0].chunk.data == chunks[-1].data and rest[-1].HasField("end")


def test_watch_receives_a_runs_start_and_finish_for_its_subscription(server: Running) -> None:
    sample(server, "watched", 5)
    sample(server, "unwatched", 5)
    requests: queue.Queue[executions.WatchRequest | None] = queue.Queue()
    requests.put(subscribe("runs", pipelines=["watched"]))
    requests.put(subscribe("gone", event_types=["ExecutionQueued"]))
    requests.put(unsubscribe("gone"))
    seen: list[executions.WatchResponse] = []
    ready = threading.Event()

    def watch() -> None:
        stream = server.viewer.watch(iter(requests.get, None), timeout=90)
        for item in stream:
            seen.append(item)
            if item.HasField("ready"):
                ready.set()
            elif item.event.event.event_type in ("ExecutionSucceeded", "ExecutionFailed"):
                requests.put(None)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert ready.wait(30), "Watch sent no ready message"
    time.sleep(0.5)  # the unsubscribe is read after ready
    other = server.operator.run_pipeline("unwatched")
    mine = server.operator.run_pipeline("watched")
    watcher.join(90)
    assert not watcher.is_alive(), "Watch did not deliver the run's end in time"

    assert seen[0].ready.position > 0
    events = [s.event for s in seen[1:]]
    types = [e.event.event_type for e in events]
    assert {"ExecutionStarted", "ExecutionSucceeded"} <= set(types)
    assert {e.event.aggregate_id for e in events} == {mine.id}
    assert all(list(e.subscription_ids) == ["runs"] for e in events)
    assert other.id not in {e.event.aggregate_id for e in events}
    succeeded = events[types.index("ExecutionSucceeded")].event
    assert succeeded.payload["pipeline_name"] == "watched" and succeeded.actor


def test_cancel_reaches_the_runs_processes_and_deadlines_end_streams(server: Running) -> None:
    sample(server, "long", 20_000_000)
    execution = server.operator.run_pipeline("long")
    deadline = time.monotonic() + 60
    pieces: list[str] = []
    # The stream of a run that goes on ends at the client's deadline.
    code = None
    try:
        pieces.extend(server.viewer.follow_logs(execution.id, timeout=3))
    except grpc.RpcError as error:
        code = error.code()  # type: ignore[attr-defined]
    text = "".join(pieces)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED, text[-3000:]
    while "started tap-flx-sample" not in text and time.monotonic() < deadline:
        time.sleep(0.2)
        text = server.viewer.stubs.executions.GetExecutionLog(
            executions.GetExecutionLogRequest(execution_id=execution.id),
            metadata=server.viewer.metadata(),
        ).chunk.data
    pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", text)]
    assert len(pids) == 2 and all(alive(p) for p in pids), text

    cancelled = server.operator.cancel_execution(execution.id)
    assert cancelled.cancel_requested or cancelled.status == "cancelled"
    end = list(server.viewer.stream_logs(execution.id, timeout=60))[-1].end
    assert end.status == "cancelled"
    assert not any(alive(p) for p in pids)
    # A Watch whose client gives it a deadline ends there too.
    with pytest.raises(grpc.RpcError) as caught:
        list(server.viewer.watch([subscribe("all")], timeout=1.5))
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_health_follows_readiness_and_reflection_lists_the_services(server: Running) -> None:
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "flx.v1.PipelineService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        READY["ok"] = False
        try:
            answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.NOT_SERVING
        finally:
            READY["ok"] = True
        with pytest.raises(grpc.RpcError) as caught:
            health.Check(health_pb2.HealthCheckRequest(service="no.Such"), timeout=10)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        reflected = ProtoReflectionDescriptorDatabase(channel)
        services = set(reflected.get_services())
        assert set(SERVICE_NAMES) <= services
        assert "grpc.health.v1.Health" in services
        pool = descriptor_pool.DescriptorPool(reflected)
        run = pool.FindServiceByName("flx.v1.ExecutionService").FindMethodByName("StreamLogs")
        assert run.server_streaming and run.output_type.name == "StreamLogsResponse"


async def expired_tokens(server: Running) -> tuple[str, str]:
    """Tokens of a login an hour ago: the access token has expired, the refresh token not."""
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=1))
    runtime = await bootstrap(server.settings, kind=ProcessKind.CLI, clock=clock)
    try:
        result = await runtime.app.execute(
            Login(email=EMAILS[Role.OPERATOR], password=SecretStr(PASSWORD)),
            principal=Principal.anonymous(),
        )
        pair: Any = result.unwrap()
        return pair.access_token, pair.refresh_token
    finally:
        await runtime.aclose()


def test_the_clients_refresh_an_expired_token(server: Running) -> None:
    sample(server, "refreshed", 5)
    access, refresh = asyncio.run(expired_tokens(server))
    with FlxGrpcClient(server.target, token=access) as stale:
        with pytest.raises(grpc.RpcError) as caught:
            stale.list_pipelines()
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with FlxGrpcClient(server.target, token=access, refresh_token=refresh) as client:
        assert "refreshed" in {p.name for p in client.list_pipelines()}
        assert client.token != access

    async def go() -> list[str]:
        access, refresh = await expired_tokens(server)
        async with AsyncFlxGrpcClient(server.target, token=access, refresh_token=refresh) as aio:
            names = [p.name for p in await aio.list_pipelines()]
            assert aio.token != access
            run = await aio.run_pipeline("refreshed")
            pieces = [text async for text in aio.follow_logs(run.id, timeout=60)]
            assert "run succeeded" in "".join(pieces)
            return names

    assert "refreshed" in asyncio.run(go())
