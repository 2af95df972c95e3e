"""Effective connector settings with their sources, and the built-in connectors of every home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flx_core.application import RemovePlugin, SetPluginSetting
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import (
    ExecutionStatus,
    Pipeline,
    Plugin,
    PluginSetting,
    PluginType,
    Principal,
    SettingKind,
    ValidationFailed,
)
from flx_meltano import GetPluginConfig, RegisterBuiltinPlugins, RunPipeline
from flx_meltano.plugin_settings import resolve_config, resolve_settings

SYSTEM = Principal.system()
BUILTINS = {"tap-flx-sample", "target-flx-jsonl", "target-flx-sqlite"}


def tap(**kw: object) -> Plugin:
    fields = {
        "plugin_type": PluginType.EXTRACTOR,
        "name": "tap-pg",
        "settings": [
            PluginSetting(name="port", kind=SettingKind.INTEGER, default=5432),
            PluginSetting(name="startDate", description="first day"),
            PluginSetting(name="password", kind=SettingKind.SECRET, required=True),
        ],
    } | kw
    return Plugin.create(**fields)


def by_name(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["name"]): r for r in rows}


def test_each_value_says_where_it_comes_from() -> None:
    plugin = tap(config={"host": "db1", "user": "a", "password": "123456"})
    pipeline = Pipeline(
        name="p",
        extractor="tap-pg",
        loader="t",
        config={"tap-pg": {"user": "b", "port": "6543", "dsn": "postgres://u:pw@h/db"}},
    )
    env = {"TAP_PG_USER": "c", "TAP_PG_STARTDATE": "2024-01-01", "TAP_PG_OPTS": '{"x": 1}'}
    rows = by_name([s.as_dict() for s in resolve_settings(plugin, pipeline, env)])
    assert [r for r in rows][:3] == ["port", "startDate", "password"]  # declared first
    assert (rows["port"]["value"], rows["port"]["source"]) == (6543, "pipeline")
    assert (rows["startDate"]["value"], rows["startDate"]["source"]) == (
        "2024-01-01",
        "environment",
    )
    assert rows["startDate"]["env"] == "TAP_PG_STARTDATE"
    assert (rows["password"]["value"], rows["password"]["source"]) == ("********", "plugin")
    assert (rows["host"]["value"], rows["host"]["source"]) == ("db1", "plugin")
    assert (rows["user"]["value"], rows["user"]["source"]) == ("c", "environment")
    assert rows["dsn"]["value"] == "postgres://u:********@h/db"
    assert rows["opts"]["value"] == {"x": 1}
    assert rows["port"]["kind"] == "integer" and rows["host"]["kind"] is None
    assert resolve_config(plugin, pipeline, env)["password"] == "123456"


def test_defaults_and_settings_without_a_value() -> None:
    rows = by_name([s.as_dict() for s in resolve_settings(tap(), None, {})])
    assert (rows["port"]["value"], rows["port"]["source"]) == (5432, "default")
    assert (rows["startDate"]["value"], rows["startDate"]["source"]) == (None, None)
    assert rows["password"]["required"] is True
    with pytest.raises(ValidationFailed, match="flx plugin set tap-pg password VALUE"):
        resolve_config(tap(), None, {})


def test_a_bad_environment_value_is_one_line_naming_the_variable() -> None:
    with pytest.raises(ValidationFailed) as caught:
        resolve_config(tap(config={"password": "x"}), None, {"TAP_PG_PORT": "abc"})
    assert str(caught.value) == "environment variable TAP_PG_PORT must be an integer (got 'abc')"


def test_pipeline_values_take_the_declared_kinds_at_run_time() -> None:
    plugin = tap(config={"password": "x"})
    pipeline = Pipeline(name="p", extractor="tap-pg", loader="t", config={"tap-pg": {"port": "1"}})
    assert resolve_config(plugin, pipeline, {})["port"] == 1
    wrong = Pipeline(name="p", extractor="tap-pg", loader="t", config={"tap-pg": {"port": "x"}})
    with pytest.raises(ValidationFailed, match="'port' of plugin 'tap-pg' in pipeline 'p'"):
        resolve_config(plugin, wrong, {})


async def test_get_plugin_config_query(runtime: Runtime, make_pipeline) -> None:
    await make_pipeline(tap={"rows": "3"})
    done = await runtime.app.execute(
        SetPluginSetting(name="tap-fixture", setting="rows", value="5"), principal=SYSTEM
    )
    assert done.ok, done.message
    plain = await runtime.app.execute(GetPluginConfig(name="tap-fixture"), principal=SYSTEM)
    assert by_name(plain.unwrap())["rows"]["source"] == "plugin"
    in_pipeline = await runtime.app.execute(
        GetPluginConfig(name="tap-fixture", pipeline="p"), principal=SYSTEM
    )
    assert (by_name(in_pipeline.unwrap())["rows"]["value"]) == "3"
    other = await runtime.app.execute(
        GetPluginConfig(name="tap-flx-sample", pipeline="p"), principal=SYSTEM
    )
    assert other.error_code == "invalid"
    assert "pipeline 'p' does not use plugin 'tap-flx-sample'" in (other.message or "")


async def test_the_next_run_uses_a_value_set_while_the_pipeline_exists(
    runtime: Runtime, make_pipeline
) -> None:
    out = await make_pipeline(tap={})
    await runtime.app.execute(
        SetPluginSetting(name="tap-fixture", setting="rows", value="7"), principal=SYSTEM
    )
    requested = await runtime.app.execute(RunPipeline(pipeline="p"), principal=SYSTEM)
    assert runtime.executor is not None
    finished = await runtime.executor.wait(requested.unwrap().id)
    assert finished.status is ExecutionStatus.SUCCEEDED, finished.error
    assert finished.records == 7
    assert out.exists()


async def test_every_home_has_the_builtin_connectors(flx_home: Path) -> None:
    settings = load_settings()
    rt = await bootstrap(settings)
    try:
        names = {p.name for p in await _plugins(rt)}
        assert names >= BUILTINS
        removed = await rt.app.execute(RemovePlugin(name="target-flx-sqlite"), principal=SYSTEM)
        assert removed.ok
    finally:
        await rt.aclose()
    again = await bootstrap(settings)  # the next process leaves a removed one removed
    try:
        assert "target-flx-sqlite" not in {p.name for p in await _plugins(again)}
        restored = await again.app.execute(RegisterBuiltinPlugins(), principal=SYSTEM)
        assert restored.unwrap() == ["target-flx-sqlite"]
        sample = next(p for p in await _plugins(again) if p.name == "tap-flx-sample")
        assert sample.variant == "flx" and Path(sample.executable or "").exists()
    finally:
        await again.aclose()


async def _plugins(rt: Runtime) -> list[Plugin]:
    from flx_core.application import ListPlugins

    return list((await rt.app.execute(ListPlugins(), principal=SYSTEM)).unwrap())


def test_as_dict_is_json() -> None:
    rows = [s.as_dict() for s in resolve_settings(tap(config={"password": "p"}), None, {})]
    assert json.loads(json.dumps(rows))[0]["env"] == "TAP_PG_PORT"
