"""Each kind of FLX process, built by bootstrap: what it contains, and that nothing is
looked up later (every handler's collaborators are bound when the process is built)."""

from __future__ import annotations

import inspect
from functools import partial
from pathlib import Path

import pytest

from flx_auth import Login
from flx_core.application import CreatePipeline, ProcessKind
from flx_core.bootstrap import PROCESS_CONTEXTS, bootstrap
from flx_core.config import load_settings
from flx_meltano import GetState, LocalExecutor, RunPipeline


def unbound_parameters(handler: object) -> list[str]:
    """Keyword-only parameters of a handler that the wiring did not give (and that have
    no default)."""
    fn = handler.func if isinstance(handler, partial) else handler
    given = handler.keywords if isinstance(handler, partial) else {}
    return [
        name
        for name, p in inspect.signature(fn).parameters.items()  # type: ignore[arg-type]
        if p.kind is inspect.Parameter.KEYWORD_ONLY
        and name not in given
        and p.default is inspect.Parameter.empty
    ]


@pytest.mark.parametrize("kind", list(ProcessKind))
async def test_each_kind_is_built_from_its_contexts(flx_home: Path, kind: ProcessKind) -> None:
    runtime = await bootstrap(load_settings(), kind=kind)
    try:
        names = [m.name for m in runtime.app.modules]
        assert names[0] == "core"
        assert set(names) == {"core", *PROCESS_CONTEXTS[kind]}
        assert runtime.kind is kind
        # The engine is in every kind: each can run or hand over runs, and read state.
        assert isinstance(runtime.executor, LocalExecutor)
        assert runtime.app.handles(RunPipeline) and runtime.app.handles(GetState)
        assert runtime.app.handles(CreatePipeline)
        assert runtime.app.handles(Login) is ("auth" in PROCESS_CONTEXTS[kind])
        for module in runtime.app.modules:
            for handler in [*module.commands.values(), *module.queries.values()]:
                assert unbound_parameters(handler) == [], (module.name, handler)
        assert runtime.closers, "the executor at least must be closed at shutdown"
    finally:
        await runtime.aclose()


def test_the_kinds_differ_where_they_should() -> None:
    assert "auth" in PROCESS_CONTEXTS[ProcessKind.CLI]
    assert "auth" in PROCESS_CONTEXTS[ProcessKind.SERVER]
    assert "auth" not in PROCESS_CONTEXTS[ProcessKind.WORKER]
    assert PROCESS_CONTEXTS[ProcessKind.SCHEDULER] == ("observability", "meltano")


async def test_a_run_requested_in_a_process_is_run_by_its_executor(flx_home: Path) -> None:
    """The handler only queues the execution; the executor bound to it runs it."""
    from flx_core.application import AddPlugin
    from flx_core.domain import ExecutionStatus, Principal

    runtime = await bootstrap(load_settings(), kind=ProcessKind.CLI)
    system = Principal.system()
    try:
        for kind, name in (("extractor", "tap-t"), ("loader", "target-t")):
            added = await runtime.app.execute(
                AddPlugin(plugin_type=kind, name=name, executable="/bin/true"), principal=system
            )
            assert added.ok, added.message
        created = await runtime.app.execute(
            CreatePipeline(name="p", extractor="tap-t", loader="target-t"), principal=system
        )
        assert created.ok, created.message
        requested = await runtime.app.execute(RunPipeline(pipeline="p"), principal=system)
        assert requested.ok, requested.message
        assert requested.value.status is ExecutionStatus.QUEUED
        assert runtime.executor is not None
        assert runtime.executor.active == [requested.value.id]
        finished = await runtime.executor.wait(requested.value.id)
        assert finished.status is ExecutionStatus.SUCCEEDED, finished.error
    finally:
        await runtime.aclose()
