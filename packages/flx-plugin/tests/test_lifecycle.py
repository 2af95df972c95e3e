"""Activation registers on the real bus; deactivation and failures undo every registration."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from flx_core.application import Application, core_module
from flx_core.domain import Principal
from flx_core.testing import InMemoryWorld
from flx_plugin import PluginConfig, PluginDiscovery, PluginLoader, PluginManager

SYSTEM = Principal.system()


def make_app() -> Application:
    app = Application(InMemoryWorld().uow)
    app.include([core_module])
    return app


def manager_for(plugin_dir: Path, app: Application | None = None) -> PluginManager:
    return PluginManager(
        PluginConfig(watch_dir=plugin_dir.resolve(), flx_version="0.1.0"), app, entry_points=False
    )


async def ping(app: Application, manager: PluginManager, name: str) -> object:
    record = manager.records[name]
    assert record.loaded is not None
    module = sys.modules[record.loaded.namespace + ".pkg"]
    command_type = next(v for k, v in vars(module).items() if k.startswith("Ping"))
    return (await app.execute(command_type(), principal=SYSTEM)).value


async def test_seed_usage_scan_then_load(plugin_dir, make_plugin) -> None:
    make_plugin("hello")
    plugins = await PluginDiscovery(plugin_dir, entry_points=False).scan()
    loaded = await PluginLoader().load_plugin(plugins[0])
    assert callable(loaded.target.activate)
    loaded.drop_modules()


async def test_activate_registers_and_stop_unregisters(
    plugin_dir, make_plugin, plugin_code
) -> None:
    make_plugin("pinger", code=plugin_code.format(tag="A", answer="pong-1"))
    app = make_app()
    manager = manager_for(plugin_dir, app)
    await manager.start()
    assert manager.records["pinger"].state == "active"
    assert manager.records["pinger"].context.registrations == 1
    assert await ping(app, manager, "pinger") == "pong-1"
    record = manager.records["pinger"]
    module = sys.modules[record.loaded.namespace + ".pkg"]
    manager.stop()
    assert record.state == "inactive"
    result = await app.execute(module.PingA(), principal=SYSTEM)
    assert result.error_code == "no_handler"


async def test_a_deactivate_that_raises_still_unregisters(
    plugin_dir, make_plugin, plugin_code
) -> None:
    code = plugin_code.format(tag="B", answer="x").replace(
        "plugin = Plugin()",
        "def _boom(self, context):\n    raise RuntimeError('bad')\n"
        "Plugin.deactivate = _boom\nplugin = Plugin()",
    )
    make_plugin("rude", code=code)
    app = make_app()
    manager = manager_for(plugin_dir, app)
    await manager.start()
    module = sys.modules[manager.records["rude"].loaded.namespace + ".pkg"]
    manager.stop()
    assert (await app.execute(module.PingB(), principal=SYSTEM)).error_code == "no_handler"


async def test_failing_activate_marks_failed_and_leaves_nothing(
    plugin_dir, make_plugin, plugin_code
) -> None:
    code = plugin_code.format(tag="C", answer="x").replace(
        "context.register_command(PingC, pong)",
        "context.register_command(PingC, pong)\n        raise ValueError('half way')",
    )
    make_plugin("half", code=code)
    make_plugin("ok")
    app = make_app()
    manager = manager_for(plugin_dir, app)
    await manager.start()
    assert manager.records["half"].state == "failed"
    assert "half way" in manager.records["half"].reason
    assert manager.records["ok"].state == "active"
    assert not any(k.__name__ == "PingC" for k in app._commands)


async def test_hot_reload_keeps_old_version_when_new_one_breaks(
    plugin_dir, make_plugin, plugin_code
) -> None:
    folder = make_plugin("pinger", code=plugin_code.format(tag="D", answer="v1"))
    app = make_app()
    manager = manager_for(plugin_dir, app)
    await manager.start()
    assert await ping(app, manager, "pinger") == "v1"
    (folder / "pkg" / "__init__.py").write_text(plugin_code.format(tag="D", answer="v2"))
    assert manager.reload_folder(folder)
    assert await ping(app, manager, "pinger") == "v2"
    (folder / "pkg" / "__init__.py").write_text("def broken(:\n")
    assert not manager.reload_folder(folder)
    record = manager.records["pinger"]
    assert record.state == "active" and "SyntaxError" in (record.reason or "")
    assert await ping(app, manager, "pinger") == "v2"
    (folder / "pkg" / "__init__.py").write_text(
        plugin_code.format(tag="D", answer="v3").replace(
            "context.register_command(PingD, pong)", "raise RuntimeError('nope')"
        )
    )
    assert not manager.reload_folder(folder)
    assert await ping(app, manager, "pinger") == "v2"


async def test_watcher_follows_real_file_changes(plugin_dir, make_plugin, plugin_code) -> None:
    from flx_plugin.watcher import watch

    app = make_app()
    manager = manager_for(plugin_dir, app)
    await manager.start()
    stop = asyncio.Event()
    task = asyncio.create_task(watch(manager, stop, debounce_ms=200))

    async def until(predicate, what: str) -> None:
        for _ in range(100):
            if predicate():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"watcher never saw: {what}; events={manager.events}")

    try:
        await asyncio.sleep(0.5)
        folder = make_plugin("live", code=plugin_code.format(tag="E", answer="a"))
        await until(
            lambda: (
                manager.records.get("live") is not None
                and manager.records["live"].state == "active"
            ),
            "added folder",
        )
        before = len(manager.events)
        for i in range(5):  # a burst of saves: one reload, not five
            (folder / "pkg" / "__init__.py").write_text(plugin_code.format(tag="E", answer=f"b{i}"))
        await until(lambda: any("reloaded live" in e for e in manager.events[before:]), "edit")
        await asyncio.sleep(0.8)
        assert sum("reloaded live" in e for e in manager.events[before:]) <= 2
        assert await ping(app, manager, "live") == "b4"
        import shutil

        shutil.rmtree(folder)
        await until(lambda: "live" not in manager.records, "removed folder")
    finally:
        stop.set()
        await task
