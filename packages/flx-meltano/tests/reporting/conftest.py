"""An application on a database of each backend, with a clock the tests set, and helpers
that write a run history straight into the executions table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, PipelineExecution, Principal
from flx_core.testing.fakes import FakeClock

SYSTEM = Principal.system()
#: "Now" of the tests: a Wednesday, 12:30 UTC.
NOW = datetime(2024, 5, 15, 12, 30, tzinfo=UTC)


@pytest.fixture
async def app(database_url: str, flx_home: Path) -> AsyncIterator[Any]:
    clock = FakeClock(NOW - timedelta(days=30))
    rt: Runtime = await bootstrap(load_settings(database_url=database_url), clock=clock)
    try:
        for kind, name in (("extractor", "tap-noop"), ("loader", "target-noop")):
            ok = await rt.app.execute(
                AddPlugin(plugin_type=kind, name=name, executable="true"), principal=SYSTEM
            )
            assert ok.ok, ok.message
        rt.app.test_clock = clock
        yield rt.app
    finally:
        await rt.aclose()


async def _pipeline(app: Any, name: str, **fields: Any) -> Any:
    result = await app.execute(
        CreatePipeline(name=name, extractor="tap-noop", loader="target-noop", **fields),
        principal=SYSTEM,
    )
    assert result.ok, result.message
    return result.value


async def _history(app: Any, p: Any, runs: list[tuple[timedelta, str, int]]) -> None:
    """Executions of ``p`` created ``ago`` before NOW, each lasting a minute."""
    async with app.uow_factory() as uow:
        for ago, status, records in runs:
            created = NOW - ago
            done = status not in ("running", "queued", "pending")
            await uow.executions.add(
                PipelineExecution(
                    pipeline_id=p.id,
                    pipeline_name=p.name,
                    status=ExecutionStatus(status),
                    created_at=created,
                    started_at=created if status != "queued" else None,
                    finished_at=created + timedelta(minutes=1) if done else None,
                    records=records,
                    stream_counts={"s": records},
                )
            )
        await uow.commit()


class Reporting:
    """The application (``app``, whose ``test_clock`` the tests set) and the helpers."""

    NOW = NOW

    def __init__(self, app: Any) -> None:
        self.app = app

    async def pipeline(self, name: str, **fields: Any) -> Any:
        return await _pipeline(self.app, name, **fields)

    async def history(self, p: Any, runs: list[tuple[timedelta, str, int]]) -> None:
        await _history(self.app, p, runs)


@pytest.fixture
async def reporting(app: Any) -> Reporting:
    return Reporting(app)
