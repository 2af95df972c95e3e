"""Changing a plugin's settings after adding it, typed pipeline config, short execution ids."""

from __future__ import annotations

from typing import Any

import pytest

from flx_core.application import (
    AddPlugin,
    Application,
    CreatePipeline,
    GetExecution,
    GetPlugin,
    RemovePlugin,
    SetPluginSetting,
    TypedPipelineConfig,
    UnsetPluginSetting,
    core_module,
)
from flx_core.domain import PipelineExecution, Principal
from flx_core.testing import FakeClock, InMemoryWorld

SYSTEM = Principal.system()


@pytest.fixture
def world() -> InMemoryWorld:
    return InMemoryWorld()


@pytest.fixture
async def app(world: InMemoryWorld) -> Application:
    application = Application(world.uow, clock=FakeClock())
    application.include([core_module])
    added = await application.execute(
        AddPlugin(
            plugin_type="extractor",
            name="tap-x",
            settings=[{"name": "port", "kind": "integer"}],
            config={"host": "db1", "port": "5432"},
        ),
        principal=SYSTEM,
    )
    assert added.ok, added.message
    return application


async def run(app: Application, message: Any) -> Any:
    return await app.execute(message, principal=SYSTEM)


async def test_set_and_unset_while_a_pipeline_uses_the_plugin(app: Application) -> None:
    created = await run(app, CreatePipeline(name="p", extractor="tap-x", loader="target-y"))
    assert created.ok
    assert (await run(app, SetPluginSetting(name="tap-x", setting="host", value="db2"))).ok
    assert (await run(app, SetPluginSetting(name="tap-x", setting="port", value="6000"))).ok
    plugin = (await run(app, GetPlugin(name="tap-x"))).unwrap()
    assert plugin.config == {"host": "db2", "port": 6000}
    assert (await run(app, UnsetPluginSetting(name="tap-x", setting="host"))).ok
    plugin = (await run(app, GetPlugin(name="tap-x"))).unwrap()
    assert plugin.config == {"port": 6000}
    refused = await run(app, RemovePlugin(name="tap-x"))
    assert refused.error_code == "invalid" and "used by pipeline(s) p" in (refused.message or "")


async def test_a_bad_value_changes_nothing(app: Application, world: InMemoryWorld) -> None:
    commits = world.commits
    bad = await run(app, SetPluginSetting(name="tap-x", setting="port", value="many"))
    assert bad.error_code == "invalid"
    assert bad.message == "setting 'port' of plugin 'tap-x' must be an integer (got 'many')"
    assert world.commits == commits
    missing = await run(app, SetPluginSetting(name="tap-q", setting="port", value="1"))
    assert missing.error_code == "not_found"


async def test_secret_flag_declares_the_setting(app: Application) -> None:
    done = await run(app, SetPluginSetting(name="tap-x", setting="key", value=123456, secret=True))
    plugin = done.unwrap()
    assert plugin.config["key"] == "123456"
    assert "key" in plugin.secret_names


async def test_typed_pipeline_config_uses_each_plugins_kinds(app: Application) -> None:
    typed = await run(
        app,
        TypedPipelineConfig(
            config={
                "tap-x": {"port": "5999", "user": "null"},
                "target-unknown": {"batch": "100", "opts": '{"a": 1}'},
            }
        ),
    )
    assert typed.unwrap() == {
        "tap-x": {"port": 5999, "user": "null"},
        "target-unknown": {"batch": "100", "opts": {"a": 1}},
    }
    bad = await run(app, TypedPipelineConfig(config={"tap-x": {"port": "x"}}, pipeline="nightly"))
    assert bad.message == (
        "setting 'port' of plugin 'tap-x' in pipeline 'nightly' must be an integer (got 'x')"
    )


async def test_executions_are_found_by_a_unique_prefix(
    app: Application, world: InMemoryWorld
) -> None:
    ids = ["abcdef0123" + "0" * 22, "abcdef0456" + "0" * 22, "9876543210" + "1" * 22]
    for ident in ids:
        execution = PipelineExecution(id=ident, pipeline_id="p1", pipeline_name="p")
        world.executions[ident] = execution
    found = await run(app, GetExecution(execution_id="987654"))
    assert found.unwrap().id == ids[2]
    assert (await run(app, GetExecution(execution_id="ABCDEF01"))).unwrap().id == ids[0]
    assert (await run(app, GetExecution(execution_id=ids[1]))).unwrap().id == ids[1]

    ambiguous = await run(app, GetExecution(execution_id="abcdef0"))
    assert ambiguous.error_code == "invalid"
    message = ambiguous.message or ""
    assert message.startswith("execution id 'abcdef0' is ambiguous: 2 executions start with it")
    assert "abcdef012300" in message and "abcdef045600" in message
    assert message.endswith("; give more characters")
    short = await run(app, GetExecution(execution_id="98765"))
    assert short.error_code == "not_found"
    assert "at least 6 characters" in (short.message or "")
    unknown = await run(app, GetExecution(execution_id="ffffff"))
    assert unknown.error_code == "not_found"
    assert unknown.message == "execution 'ffffff' not found"


async def test_a_pipeline_stores_config_of_the_kind_its_plugins_declare(app: Application) -> None:
    """Whatever adapter sends the config (CLI text, API JSON), the handler types it."""
    created = await run(
        app,
        CreatePipeline(
            name="p",
            extractor="tap-x",
            loader="target-y",
            config={"tap-x": {"port": "6543", "password": 123456, "schema": "1e3"}},
        ),
    )
    assert created.ok, created.message
    assert created.value.config["tap-x"] == {"port": 6543, "password": "123456", "schema": "1e3"}
    from flx_core.application import UpdatePipeline

    refused = await run(
        app, UpdatePipeline(pipeline="p", changes={"config": {"tap-x": {"port": "many"}}})
    )
    assert not refused.ok and "port" in (refused.message or "")
    assert "must be an integer" in (refused.message or "")
