"""Handing runs to the broker: what a worker receives, where, when; and a broker that is
not there."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, Principal
from flx_core.domain.ports import RunRequest
from flx_meltano import RunPipeline
from flx_meltano.distributed import TASK_NAME, CeleryExecutor

from .conftest import add_fixture_pipeline, delete_queue

SYSTEM = Principal.system()


def take_message(url: str, queue: str) -> Any:
    """The next message on ``queue`` (removed from it), or None."""
    from kombu import Connection, Exchange, Queue

    with Connection(url, connect_timeout=5) as conn:
        bound = Queue(queue, Exchange(queue), queue, channel=conn.default_channel)
        bound.declare()  # an empty queue nobody sent to yet
        found = bound.get(no_ack=True)
        if found is None:
            return None
        return found.headers, found.content_type, found.decode()


async def test_a_run_request_goes_to_the_queue_as_json_named_by_its_execution(
    celery_runtime: Runtime, broker_url: str, queue_name: str
) -> None:
    requested = await celery_runtime.app.execute(
        RunPipeline(pipeline="p", full_refresh=True, timeout=30), principal=SYSTEM
    )
    assert requested.ok, requested.message
    execution = requested.value
    assert execution.status is ExecutionStatus.QUEUED

    message = take_message(broker_url, queue_name)
    assert message is not None, "no message on the executor's default queue"
    headers, content_type, (args, kwargs, _embed) = message
    assert content_type == "application/json"
    assert headers["task"] == TASK_NAME
    assert headers["id"] == execution.id
    assert headers.get("eta") is None
    request = RunRequest.model_validate(args[0])
    assert request.execution_id == execution.id
    assert request.pipeline_id == execution.pipeline_id
    assert request.full_refresh is True and request.timeout == 30
    assert kwargs == {}
    assert take_message(broker_url, queue_name) is None, "the run was sent twice"


async def test_a_request_names_its_queue_and_a_later_start_is_held_by_the_broker(
    celery_runtime: Runtime, broker_url: str, queue_name: str
) -> None:
    executor = celery_runtime.executor
    assert isinstance(executor, CeleryExecutor)
    other = f"{queue_name}-other"
    later = datetime.now(UTC) + timedelta(minutes=5)
    try:
        executor.submit(
            RunRequest(
                execution_id="e1", pipeline_id="p1", principal=SYSTEM, queue=other, not_before=later
            )
        )
        assert take_message(broker_url, queue_name) is None, "sent to the default queue"
        message = take_message(broker_url, other)
        assert message is not None
        headers, _, (args, _, _) = message
        assert args[0]["execution_id"] == "e1"
        eta = datetime.fromisoformat(headers["eta"])
        assert abs((eta - later).total_seconds()) < 5
    finally:
        delete_queue(broker_url, other)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "scheme",
    ["amqp://guest:{p}@127.0.0.1:{port}//", "redis://:{p}@127.0.0.1:{port}/0"],
    ids=["amqp", "redis"],
)
async def test_a_run_no_broker_takes_fails_at_once_and_the_password_is_not_shown(
    flx_home: Any, tmp_path: Any, scheme: str
) -> None:
    password = "s3cret-Pa55"
    url = scheme.format(p=password, port=closed_port())
    runtime = await bootstrap(load_settings(executor="celery", broker_url=url))
    try:
        await add_fixture_pipeline(runtime, tmp_path)
        requested = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
        assert requested.ok, requested.message
        assert runtime.executor is not None
        execution = await runtime.executor.wait(requested.value.id)
    finally:
        await runtime.aclose()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.error is not None
    assert execution.error.startswith("could not hand the run to a worker: cannot reach")
    assert "********" in execution.error
    assert password not in execution.error
    assert execution.host is None, "it never ran anywhere"
