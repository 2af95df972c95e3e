"""SQL repositories and unit of work, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from flx_core.application import (
    Application,
    CreatePipeline,
    ListAuditEvents,
    ListExecutions,
    ListPipelines,
    UpdatePipeline,
    core_module,
)
from flx_core.domain import (
    AlreadyExists,
    ConcurrencyConflict,
    ExecutionStatus,
    Pipeline,
    PipelineExecution,
    Plugin,
    PluginType,
    Principal,
)
from flx_core.domain.ports import EventFilter, ExecutionFilter, PipelineFilter
from flx_core.infrastructure.persistence import SqlUnitOfWork, make_engine, make_session_factory
from flx_core.infrastructure.secret_cipher import EnvironmentKeys, SecretCipher, new_key


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[object]:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    cipher = SecretCipher(EnvironmentKeys(new_key().decode()))
    yield lambda: SqlUnitOfWork(factory, cipher=cipher)
    await engine.dispose()


async def test_pipeline_round_trip(uow_factory) -> None:
    p = Pipeline.create(
        name="demo",
        extractor="tap-a",
        loader="target-b",
        mappers=["m1"],
        config={"tap-a": {"rows": 5}},
        select=["users.*"],
        schedule={"value": "0 * * * *"},
        tags=["x"],
    )
    async with uow_factory() as uow:
        await uow.pipelines.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.pipelines.get_by_name("demo")
    assert got is not None
    assert got.model_dump(exclude={"created_at", "updated_at"}) == p.model_dump(
        exclude={"created_at", "updated_at"}
    )
    assert got.created_at.tzinfo is not None
    assert abs(got.created_at - p.created_at) < timedelta(seconds=1)


async def test_the_extractor_extras_of_a_pipeline_are_stored(uow_factory) -> None:
    p = Pipeline.create(
        name="extras",
        extractor="tap-a",
        loader="target-b",
        schema_overrides={"users": {"score": {"type": ["string", "null"]}}},
        catalog_path="/srv/catalog.json",
        state_path="/srv/state.json",
        load_schema="raw",
        select_filter=["users", "!events"],
    )
    async with uow_factory() as uow:
        await uow.pipelines.add(p)
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.pipelines.get_by_name("extras")
        assert got is not None
        assert got.model_dump(exclude={"created_at", "updated_at"}) == p.model_dump(
            exclude={"created_at", "updated_at"}
        )
        uow.track(got)
        got.update(catalog_path=None, select_filter=[])
        await uow.pipelines.save(got)
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.pipelines.get_by_name("extras")
    assert again is not None and (again.catalog_path, again.select_filter) == (None, [])
    assert again.state_path == "/srv/state.json"


async def test_duplicate_name_raises_already_exists(uow_factory) -> None:
    async with uow_factory() as uow:
        await uow.pipelines.add(Pipeline(name="demo", extractor="a", loader="b"))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(AlreadyExists):
            await uow.pipelines.add(Pipeline(name="demo", extractor="a", loader="b"))


async def test_optimistic_locking_refuses_a_stale_save(uow_factory) -> None:
    async with uow_factory() as uow:
        await uow.pipelines.add(Pipeline(name="demo", extractor="a", loader="b"))
        await uow.commit()
    # Two clients read version 1 (as a GET before a PUT would); one saves first.
    async with uow_factory() as uow:
        b = await uow.pipelines.get_by_name("demo")
    async with uow_factory() as first:
        a = await first.pipelines.get_by_name("demo")
        assert a is not None and b is not None
        a.update(description="first")
        await first.pipelines.save(a)
        await first.commit()
    async with uow_factory() as second:
        b.update(description="second")
        with pytest.raises(ConcurrencyConflict):
            await second.pipelines.save(b)
    async with uow_factory() as uow:
        final = await uow.pipelines.get_by_name("demo")
    assert final is not None and final.description == "first" and final.version == 2


async def test_rollback_discards_changes(uow_factory) -> None:
    async with uow_factory() as uow:
        await uow.pipelines.add(Pipeline(name="gone", extractor="a", loader="b"))
        # no commit: leaving the block rolls back
    async with uow_factory() as uow:
        assert await uow.pipelines.get_by_name("gone") is None


async def test_list_filters_and_cursor_pagination(uow_factory) -> None:
    async with uow_factory() as uow:
        for i in range(7):
            await uow.pipelines.add(
                Pipeline(
                    name=f"p{i}",
                    extractor="tap-a" if i % 2 else "tap-b",
                    loader="t",
                    enabled=i != 3,
                    tags=["even"] if i % 2 == 0 else [],
                )
            )
        await uow.commit()
    async with uow_factory() as uow:
        names, cursor = [], None
        while True:
            page = await uow.pipelines.list(PipelineFilter(), limit=3, cursor=cursor)
            names.extend(p.name for p in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert names == [f"p{i}" for i in range(7)]
        only_a = await uow.pipelines.list(PipelineFilter(extractor="tap-a"))
        assert [p.name for p in only_a.items] == ["p1", "p3", "p5"]
        disabled = await uow.pipelines.list(PipelineFilter(enabled=False))
        assert [p.name for p in disabled.items] == ["p3"]
        tagged = await uow.pipelines.list(PipelineFilter(tag="even"))
        assert [p.name for p in tagged.items] == ["p0", "p2", "p4", "p6"]


async def test_plugins_and_executions(uow_factory) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    async with uow_factory() as uow:
        await uow.plugins.add(
            Plugin(plugin_type=PluginType.LOADER, name="target-b", pip_url="target-b==1.0")
        )
        for i in range(5):
            e = PipelineExecution(
                pipeline_id="p1", pipeline_name="demo", created_at=base + timedelta(minutes=i)
            )
            if i < 4:
                e.start(now=base)
                e.record_progress({"users": i})
                e.succeed(now=base)
            await uow.executions.add(e)
        await uow.commit()
    async with uow_factory() as uow:
        plugins = await uow.plugins.list(PluginType.LOADER)
        assert [p.pip_url for p in plugins] == ["target-b==1.0"]
        assert await uow.plugins.list(PluginType.EXTRACTOR) == []
        first = await uow.executions.list(ExecutionFilter(pipeline_id="p1"), limit=2)
        second = await uow.executions.list(
            ExecutionFilter(pipeline_id="p1"), limit=2, cursor=first.next_cursor
        )
        third = await uow.executions.list(
            ExecutionFilter(pipeline_id="p1"), limit=2, cursor=second.next_cursor
        )
        order = [e.created_at for e in first.items + second.items + third.items]
        assert order == sorted(order, reverse=True) and len(order) == 5
        assert third.next_cursor is None
        active = await uow.executions.active_for("p1")
        assert [e.status for e in active] == [ExecutionStatus.PENDING]
        done = await uow.executions.list(
            ExecutionFilter(statuses=frozenset({ExecutionStatus.SUCCEEDED}))
        )
        assert len(done.items) == 4 and done.items[0].stream_counts == {"users": 3}


async def test_application_on_sql_audits_every_event(uow_factory) -> None:
    app = Application(uow_factory)
    app.include([core_module])
    bob = Principal(subject="bob@example.com", is_system=True)
    await app.execute(CreatePipeline(name="demo", extractor="a", loader="b"), principal=bob)
    await app.execute(UpdatePipeline(pipeline="demo", changes={"enabled": False}), principal=bob)
    events = (await app.execute(ListAuditEvents(), principal=bob)).unwrap()
    assert [(e.event_type, e.actor) for e in events] == [
        ("PipelineUpdated", "bob@example.com"),
        ("PipelineCreated", "bob@example.com"),
    ]
    assert events[0].payload["changes"] == {"enabled": False}
    by_type = (
        await app.execute(
            ListAuditEvents(filter=EventFilter(event_type="PipelineCreated")), principal=bob
        )
    ).unwrap()
    assert len(by_type) == 1
    listed = (await app.execute(ListPipelines(), principal=bob)).unwrap()
    assert listed.items[0].enabled is False
    assert (await app.execute(ListExecutions(), principal=bob)).unwrap().items == []
