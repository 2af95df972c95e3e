"""Real brokers for the distributed executor's tests: RabbitMQ and Redis, each test on a
queue of its own (deleted at the end), so parallel tests and leftovers never cross.

``FLX_TEST_AMQP_URL`` and ``FLX_TEST_BROKER_REDIS_URL`` name the servers (defaults: the
local ones; Redis database 9, away from the other tests' keys). Under ``CI=true`` a missing
broker fails the test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal

CONNECTORS = Path(__file__).resolve().parents[1] / "engine" / "connectors"
SYSTEM = Principal.system()


def delete_queue(url: str, name: str) -> None:
    """Delete queue ``name`` and its exchange (Celery declares one of the same name)."""
    from kombu import Connection, Exchange, Queue

    with Connection(url, connect_timeout=5) as conn:
        channel = conn.default_channel
        queue = Queue(name, Exchange(name), name, channel=channel)
        queue.declare()  # so that the deletion knows its binding (Redis keeps it apart)
        queue.delete()
        Exchange(name, channel=channel).delete()


@pytest.fixture
def queue_name(broker_url: str) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        delete_queue(broker_url, name)


def wrapper(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
async def celery_runtime(
    flx_home: Path, tmp_path: Path, broker_url: str, queue_name: str
) -> AsyncIterator[Runtime]:
    """A `flx` process of the celery executor (embedded database) with pipeline ``p``: the
    fixture tap into the fixture target."""
    runtime = await bootstrap(
        load_settings(executor="celery", broker_url=broker_url, default_queue=queue_name)
    )
    try:
        await add_fixture_pipeline(runtime, tmp_path)
        yield runtime
    finally:
        await runtime.aclose()


async def add_fixture_pipeline(runtime: Runtime, tmp_path: Path, name: str = "p") -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    plugins: list[tuple[str, str, str]] = [
        ("extractor", "tap-fixture", "tap_fixture.py"),
        ("loader", "target-fixture", "target_fixture.py"),
    ]
    for kind, plugin, script in plugins:
        extra: dict[str, Any] = {"capabilities": ["state"]} if kind == "extractor" else {}
        added = await runtime.app.execute(
            AddPlugin(
                plugin_type=kind,
                name=plugin,
                executable=str(wrapper(bindir, plugin, script)),
                **extra,
            ),
            principal=SYSTEM,
        )
        assert added.ok, added.message
    created = await runtime.app.execute(
        CreatePipeline(
            name=name,
            extractor="tap-fixture",
            loader="target-fixture",
            config={"target-fixture": {"path": str(tmp_path / f"{name}.json")}},
        ),
        principal=SYSTEM,
    )
    assert created.ok, created.message
