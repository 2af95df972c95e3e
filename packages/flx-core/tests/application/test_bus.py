"""The buses: permissions checked before handlers, events dispatched after the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from flx_core.application import (
    AddPlugin,
    Application,
    ApplicationModule,
    Command,
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    HandlerContext,
    ListAuditEvents,
    ListPipelines,
    RemovePlugin,
    UpdatePipeline,
    core_module,
    initialization_order,
)
from flx_core.application.modules import Middleware
from flx_core.domain import Permission, Principal, ServiceResult
from flx_core.domain.events import PipelineCreated, PipelineDeleted
from flx_core.testing import FakeClock, InMemoryWorld

SYSTEM = Principal.system()


def make_app(world: InMemoryWorld, *modules: ApplicationModule) -> Application:
    app = Application(world.uow, clock=FakeClock())
    app.include([core_module, *modules])
    return app


async def test_create_then_get_and_list() -> None:
    world = InMemoryWorld()
    app = make_app(world)
    created = await app.execute(
        CreatePipeline(name="demo", extractor="tap-a", loader="target-b"), principal=SYSTEM
    )
    assert created.ok, created.message
    got = await app.execute(GetPipeline(pipeline="demo"), principal=SYSTEM)
    assert got.unwrap().id == created.unwrap().id
    listed = await app.execute(ListPipelines(), principal=SYSTEM)
    assert [p.name for p in listed.unwrap().items] == ["demo"]


async def test_duplicate_name_is_a_clear_failure_and_changes_nothing() -> None:
    world = InMemoryWorld()
    app = make_app(world)
    cmd = CreatePipeline(name="demo", extractor="tap-a", loader="target-b")
    await app.execute(cmd, principal=SYSTEM)
    commits = world.commits
    again = await app.execute(cmd, principal=SYSTEM)
    assert again.error_code == "already_exists"
    assert again.message == "pipeline 'demo' already exists"
    assert world.commits == commits
    assert len(world.pipelines) == 1


async def test_invalid_values_fail_with_field_names() -> None:
    app = make_app(InMemoryWorld())
    result = await app.execute(
        CreatePipeline(name="demo", extractor="tap-a", loader="target-b", schedule="nope"),
        principal=SYSTEM,
    )
    assert result.error_code == "invalid"
    assert "schedule" in (result.message or "") and "cron" in (result.message or "")


async def test_stale_update_is_a_conflict() -> None:
    world = InMemoryWorld()
    app = make_app(world)
    await app.execute(CreatePipeline(name="demo", extractor="a", loader="b"), principal=SYSTEM)
    first = await app.execute(
        UpdatePipeline(pipeline="demo", changes={"description": "x"}, expected_version=1),
        principal=SYSTEM,
    )
    assert first.ok and first.unwrap().version == 2
    stale = await app.execute(
        UpdatePipeline(pipeline="demo", changes={"description": "y"}, expected_version=1),
        principal=SYSTEM,
    )
    assert stale.error_code == "conflict"
    assert "changed since version 1" in (stale.message or "")
    assert next(iter(world.pipelines.values())).description == "x"


async def test_unknown_pipeline_is_not_found() -> None:
    app = make_app(InMemoryWorld())
    result = await app.execute(DeletePipeline(pipeline="ghost"), principal=SYSTEM)
    assert (result.error_code, result.message) == ("not_found", "pipeline 'ghost' not found")


async def test_permission_is_checked_before_the_handler() -> None:
    world = InMemoryWorld()
    app = make_app(world)
    reader = Principal(subject="ann", permissions=frozenset({Permission.PIPELINE_READ}))
    denied = await app.execute(
        CreatePipeline(name="demo", extractor="a", loader="b"), principal=reader
    )
    assert denied.error_code == "permission_denied"
    assert "lacks pipeline:write" in (denied.message or "")
    assert world.pipelines == {} and world.commits == 0
    allowed = await app.execute(ListPipelines(), principal=reader)
    assert allowed.ok
    audit = await app.execute(ListAuditEvents(), principal=reader)
    assert audit.error_code == "permission_denied"


async def test_events_are_audited_with_actor_and_dispatched_after_commit() -> None:
    world = InMemoryWorld()
    seen: list[tuple[str, int]] = []
    listeners = ApplicationModule("listeners", depends_on=("core",))

    @listeners.on(PipelineCreated)
    async def on_created(event: PipelineCreated, ctx: HandlerContext) -> None:
        # The commit already happened: the pipeline is visible to a new unit of work.
        seen.append((event.name, len(world.pipelines)))

    app = make_app(world, listeners)
    alice = Principal(subject="alice", permissions=frozenset(Permission))
    await app.execute(CreatePipeline(name="demo", extractor="a", loader="b"), principal=alice)
    assert seen == [("demo", 1)]
    assert [(e.event_type, e.actor) for e in world.events] == [("PipelineCreated", "alice")]


async def test_failing_event_handler_is_isolated() -> None:
    world = InMemoryWorld()
    calls: list[str] = []
    mod = ApplicationModule("flaky", depends_on=("core",))

    @mod.on(PipelineDeleted)
    async def broken(event: PipelineDeleted, ctx: HandlerContext) -> None:
        raise RuntimeError("handler bug")

    @mod.on(PipelineDeleted)
    async def fine(event: PipelineDeleted, ctx: HandlerContext) -> None:
        calls.append(event.name)

    app = make_app(world, mod)
    await app.execute(CreatePipeline(name="demo", extractor="a", loader="b"), principal=SYSTEM)
    result = await app.execute(DeletePipeline(pipeline="demo"), principal=SYSTEM)
    assert result.ok
    assert calls == ["demo"]
    assert world.pipelines == {}


async def test_command_without_handler_fails_clearly() -> None:
    class Orphan(Command):
        permission = Permission.PIPELINE_WRITE

    result = await make_app(InMemoryWorld()).execute(Orphan(), principal=SYSTEM)
    assert result.error_code == "no_handler"


async def test_runtime_registration_can_be_removed() -> None:
    class Ping(Command):
        permission = Permission.PIPELINE_READ

    app = make_app(InMemoryWorld())

    async def pong(cmd: Ping, ctx: HandlerContext) -> ServiceResult[str]:
        return ServiceResult.success("pong")

    reg = app.register_command(Ping, pong)
    assert (await app.execute(Ping(), principal=SYSTEM)).value == "pong"
    with pytest.raises(ValueError, match="already has a handler"):
        app.register_command(Ping, pong)
    reg.remove()
    assert (await app.execute(Ping(), principal=SYSTEM)).error_code == "no_handler"


async def test_plugin_in_use_cannot_be_removed() -> None:
    world = InMemoryWorld()
    app = make_app(world)
    await app.execute(AddPlugin(plugin_type="extractor", name="tap-a"), principal=SYSTEM)
    await app.execute(CreatePipeline(name="demo", extractor="tap-a", loader="b"), principal=SYSTEM)
    result = await app.execute(RemovePlugin(name="tap-a"), principal=SYSTEM)
    assert result.error_code == "invalid"
    assert "used by pipeline(s) demo" in (result.message or "")


def test_module_order_follows_dependencies_and_reports_cycles() -> None:
    a = ApplicationModule("meltano", depends_on=("core", "plugin"))
    b = ApplicationModule("plugin", depends_on=("core",))
    order = [m.name for m in initialization_order([a, b, core_module])]
    assert order == ["core", "plugin", "meltano"]
    with pytest.raises(ValueError, match="unknown module 'auth'"):
        initialization_order([ApplicationModule("x", depends_on=("auth",))])
    x = ApplicationModule("x", depends_on=("y",))
    y = ApplicationModule("y", depends_on=("x",))
    with pytest.raises(ValueError, match="cycle"):
        initialization_order([x, y])


async def _needs_store(msg: object, ctx: object, *, store: object) -> object:
    return store


def test_a_handler_gets_its_collaborators_when_the_module_is_built() -> None:
    from flx_core.application import ApplicationModule, Command

    class Ping(Command):
        permission = None

    table = ApplicationModule("ctx")
    table.command(Ping)(_needs_store)
    built = table.with_dependencies(store="the store", unused="ignored")
    assert built.commands[Ping].keywords == {"store": "the store"}  # type: ignore[attr-defined]
    assert table.commands[Ping] is _needs_store, "the handler table itself is left unbound"
    with pytest.raises(ValueError, match="needs 'store'"):
        table.with_dependencies(other=1)


async def test_middleware_wraps_every_command_and_query_in_module_order() -> None:
    seen: list[str] = []

    def around(tag: str) -> Middleware:
        async def middleware(
            message: Any, handle: Callable[[], Awaitable[ServiceResult[Any]]]
        ) -> ServiceResult[Any]:
            seen.append(f"{tag}>{type(message).__name__}")
            result = await handle()
            seen.append(f"{tag}<{'ok' if result.ok else result.error_code}")
            return result

        return middleware

    first = ApplicationModule("first", middleware=[around("a")])
    second = ApplicationModule("second", middleware=[around("b")])
    app = make_app(InMemoryWorld(), first, second)
    await app.execute(
        CreatePipeline(name="demo", extractor="tap-a", loader="target-b"), principal=SYSTEM
    )
    await app.execute(GetPipeline(pipeline="nope"), principal=SYSTEM)
    # A refusal by the permission check goes through the middleware too.
    await app.execute(DeletePipeline(pipeline="demo"), principal=Principal.anonymous())
    assert seen == [
        "a>CreatePipeline",
        "b>CreatePipeline",
        "b<ok",
        "a<ok",
        "a>GetPipeline",
        "b>GetPipeline",
        "b<not_found",
        "a<not_found",
        "a>DeletePipeline",
        "b>DeletePipeline",
        "b<permission_denied",
        "a<permission_denied",
    ]
