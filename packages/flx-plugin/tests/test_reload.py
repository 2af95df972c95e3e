"""Reconciliation after changes: reloads, failed edits that keep the old version, folders
added and removed, dependents, renames, fallbacks and extensions.toml edits.

These drive ``handle_changes`` with the paths a watcher would report, after real edits of
real files; test_watcher.py covers the watcher itself.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from flx_core.domain import Principal
from flx_plugin import ExtensionState

SYSTEM = Principal.system()


async def ping(app, manager, module_of, name: str) -> object:
    mod = module_of(manager, name)
    command = next(v for k, v in vars(mod).items() if k.startswith("Ping"))
    return (await app.execute(command(), principal=SYSTEM)).value


def source(folder: Path) -> Path:
    return folder / "pkg" / "__init__.py"


async def test_an_edit_reloads_and_drops_the_old_modules(
    app, make_extension, manager_for, extension_code, module_of
) -> None:
    folder = make_extension("pinger", code=extension_code.format(tag="A", answer="v1"))
    manager = manager_for(app)
    await manager.start()
    old_namespace = manager.records["pinger"].loaded.namespace
    source(folder).write_text(extension_code.format(tag="A", answer="v2"))
    manager.handle_changes([source(folder)])
    assert await ping(app, manager, module_of, "pinger") == "v2"
    assert not any(k.startswith(old_namespace) for k in sys.modules)
    assert manager.events[-1] == f"reloaded pinger 1.0.0 ({folder})"
    assert sum(1 for k in app._commands if k.__name__ == "PingA") == 1


async def test_a_burst_of_changes_in_one_folder_is_one_reload(
    app, make_extension, manager_for, extension_code
) -> None:
    folder = make_extension("pinger", code=extension_code.format(tag="B", answer="v1"))
    manager = manager_for(app)
    await manager.start()
    before = len(manager.events)
    extra = [folder / "pkg" / f"mod{i}.py" for i in range(5)]
    for path in extra:
        path.write_text("X = 1\n")
    manager.handle_changes([source(folder), folder / "flx-extension.toml", *extra])
    assert manager.events[before:] == [f"reloaded pinger 1.0.0 ({folder})"]


async def test_a_broken_edit_keeps_the_old_version_and_says_why(
    app, make_extension, manager_for, extension_code, module_of
) -> None:
    folder = make_extension("pinger", code=extension_code.format(tag="C", answer="v1"))
    manager = manager_for(app)
    await manager.start()
    source(folder).write_text("def broken(:\n")
    manager.handle_changes([source(folder)])
    record = manager.records["pinger"]
    assert record.state is ExtensionState.ACTIVE
    assert record.reason.startswith("reload failed, previous version 1.0.0 stays active: ")
    assert "SyntaxError" in record.reason
    assert manager.events[-1].startswith("reload failed pinger: cannot import pkg:plugin")
    assert await ping(app, manager, module_of, "pinger") == "v1"

    before = len(manager.events)
    manager.handle_changes([])  # an unrelated batch: no new attempt, no new line
    assert manager.events[before:] == []

    source(folder).write_text(extension_code.format(tag="C", answer="v2"))
    manager.handle_changes([source(folder)])
    assert manager.records["pinger"].reason is None
    assert await ping(app, manager, module_of, "pinger") == "v2"


async def test_an_activate_that_raises_brings_the_old_version_back(
    app, make_extension, manager_for, extension_code, module_of
) -> None:
    folder = make_extension("pinger", code=extension_code.format(tag="D", answer="v1"))
    manager = manager_for(app)
    await manager.start()
    source(folder).write_text(
        extension_code.format(tag="D", answer="v2").replace(
            "context.register_command(PingD, pong)",
            "context.register_command(PingD, pong)\n        raise RuntimeError('nope')",
        )
    )
    assert not manager.reload("pinger")
    record = manager.records["pinger"]
    assert record.state is ExtensionState.ACTIVE
    assert "activate() raised RuntimeError: nope" in record.reason
    assert await ping(app, manager, module_of, "pinger") == "v1"
    assert sum(1 for k in app._commands if k.__name__ == "PingD") == 1


async def test_a_bad_manifest_edit_keeps_the_old_version(
    app, make_extension, manager_for, extension_code, module_of
) -> None:
    folder = make_extension("pinger", code=extension_code.format(tag="E", answer="v1"))
    manager = manager_for(app)
    await manager.start()
    manifest = folder / "flx-extension.toml"
    manifest.write_text(manifest.read_text().replace('"1.0.0"', '"one"'))
    manager.handle_changes([manifest])
    record = manager.records["pinger"]
    assert record.state is ExtensionState.ACTIVE
    assert f"{manifest}: field 'version'" in record.reason
    assert await ping(app, manager, module_of, "pinger") == "v1"


async def test_an_edit_that_no_longer_resolves_keeps_the_old_version(
    app, make_extension, manager_for
) -> None:
    folder = make_extension("app")
    manager = manager_for(app)
    await manager.start()
    make_extension("app", requires=["ghost>=1"])
    manager.handle_changes([folder / "flx-extension.toml"])
    record = manager.records["app"]
    assert record.state is ExtensionState.ACTIVE
    assert record.reason == (
        "reload failed, previous version 1.0.0 stays active: requires ghost>=1, which is missing"
    )


async def test_adding_and_removing_folders_loads_and_unloads(
    app, make_extension, manager_for, extension_code, module_of
) -> None:
    manager = manager_for(app)
    await manager.start()
    assert manager.records == {}
    folder = make_extension("late", code=extension_code.format(tag="F", answer="hi"))
    manager.handle_changes([source(folder)])
    assert manager.records["late"].state is ExtensionState.ACTIVE
    mod = module_of(manager, "late")
    assert (await app.execute(mod.PingF(), principal=SYSTEM)).value == "hi"
    shutil.rmtree(folder)
    manager.handle_changes([source(folder)])
    assert "late" not in manager.records
    assert manager.events[-1] == "unloaded late"
    assert (await app.execute(mod.PingF(), principal=SYSTEM)).error_code == "no_handler"


async def test_dependents_stop_with_their_dependency_and_come_back(
    app, make_extension, manager_for
) -> None:
    base = make_extension("base")
    make_extension("app", requires=["base>=1"])
    manager = manager_for(app)
    await manager.start()
    shutil.rmtree(base)
    manager.handle_changes([base / "flx-extension.toml"])
    assert manager.events[-2:] == [
        "stopped app: requires base>=1, which is missing",
        "unloaded base",
    ]
    assert manager.records["app"].state is ExtensionState.FAILED
    make_extension("base")
    manager.handle_changes([base / "flx-extension.toml"])
    assert manager.records["app"].state is ExtensionState.ACTIVE
    assert manager.records["base"].state is ExtensionState.ACTIVE


async def test_a_renamed_plugin_replaces_the_old_name(app, make_extension, manager_for) -> None:
    folder = make_extension("alpha")
    manager = manager_for(app)
    await manager.start()
    make_extension("alpha", name="beta")
    manager.handle_changes([folder / "flx-extension.toml"])
    assert set(manager.records) == {"beta"}
    assert manager.records["beta"].state is ExtensionState.ACTIVE
    assert "unloaded alpha" in manager.events


async def test_a_highest_version_that_does_not_import_falls_back(
    app, make_extension, manager_for
) -> None:
    make_extension("alerts-1", name="alerts", version="1.3.0")
    broken = make_extension("alerts-2", name="alerts", version="2.1.0", code="import nowhere_\n")
    manager = manager_for(app)
    await manager.start()
    record = manager.records["alerts"]
    assert record.state is ExtensionState.ACTIVE and record.extension.version == "1.3.0"
    rows = {(r["name"], r["version"]): r for r in manager.snapshot()}
    assert rows[("alerts", "2.1.0")]["state"] == "failed"
    assert "ModuleNotFoundError" in rows[("alerts", "2.1.0")]["reason"]
    assert rows[("alerts", "1.3.0")]["versions"] == ["1.3.0", "2.1.0"]

    source(broken).write_text(
        "class P:\n    def activate(self, context):\n        pass\nplugin = P()\n"
    )
    manager.handle_changes([source(broken)])
    assert manager.records["alerts"].extension.version == "2.1.0"
    assert f"replaced alerts 1.3.0 by 2.1.0 ({broken})" in manager.events


async def test_a_failed_extension_is_not_retried_until_its_folder_changes(
    app, make_extension, manager_for
) -> None:
    broken = make_extension("broken", code="raise SystemError('at import')\n")
    other = make_extension("other")
    manager = manager_for(app)
    await manager.start()
    assert manager.events.count(
        "failed broken 1.0.0: cannot import pkg:plugin: SystemError: at import"
    )
    before = len(manager.events)
    manager.handle_changes([source(other)])
    assert manager.events[before:] == [f"reloaded other 1.0.0 ({other})"]
    source(broken).write_text(
        "class P:\n    def activate(self, context):\n        pass\nplugin = P()\n"
    )
    manager.handle_changes([source(broken)])
    assert manager.records["broken"].state is ExtensionState.ACTIVE


async def test_extensions_toml_edits_disable_pin_and_configure(
    app, make_extension, manager_for, extension_dir
) -> None:
    options_code = (
        "class P:\n"
        "    def activate(self, context):\n"
        "        self.seen = dict(context.config)\n"
        "plugin = P()\n"
    )
    make_extension("alerts-1", name="alerts", version="1.0.0", code=options_code)
    make_extension("alerts-2", name="alerts", version="2.0.0", code=options_code)
    config_file = extension_dir.parent / "extensions.toml"
    manager = manager_for(app)
    await manager.start()
    assert manager.records["alerts"].extension.version == "2.0.0"

    config_file.write_text('[extensions.alerts]\nversion = "==1.0.0"\nlevel = "high"\n')
    manager.handle_changes([config_file])
    record = manager.records["alerts"]
    assert record.extension.version == "1.0.0"
    assert record.loaded.target.seen == {"level": "high"}

    config_file.write_text('[extensions.alerts]\nversion = "==1.0.0"\nlevel = "low"\n')
    manager.handle_changes([config_file])
    assert manager.records["alerts"].loaded.target.seen == {"level": "low"}
    assert manager.events[-1] == f"reloaded alerts 1.0.0 ({extension_dir / 'alerts-1'})"

    config_file.write_text("[extensions.alerts]\nenabled = false\n")
    manager.handle_changes([config_file])
    assert manager.records["alerts"].state is ExtensionState.INACTIVE
    assert manager.records["alerts"].reason == "disabled in extensions.toml"

    config_file.write_text("[extensions.alerts]\nenabled = 'perhaps'\n")
    manager.handle_changes([config_file])
    assert manager.events[-1].startswith("error: ")
    assert "extensions.alerts.enabled must be true or false" in manager.events[-1]
    assert manager.records["alerts"].state is ExtensionState.INACTIVE


async def test_reloading_an_unknown_extension_says_so(manager_for) -> None:
    manager = manager_for(None)
    await manager.start()
    assert not manager.reload("ghost")
    assert manager.events[-1] == "failed ghost: no extension of that name"
