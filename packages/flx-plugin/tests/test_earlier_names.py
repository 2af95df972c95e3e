"""What extensions and operators wrote before the files and names said "extension" still
works: ``flx-plugin.toml``, the ``flx.plugins`` entry point group, ``plugins.toml`` with its
``[plugins.<name>]`` tables, ``$FLX_HOME/plugins.d``, ``FlxPlugin`` and ``PluginContext``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from flx_core.config import load_settings
from flx_plugin import (
    ExtensionConfig,
    ExtensionContext,
    ExtensionDiscovery,
    ExtensionManager,
    ExtensionState,
    FlxExtension,
    extension_rows,
    load_extension_config,
)
from flx_plugin.status import write_status

BASE = """
class Base:
    manifest = {"name": "base", "version": "1.1.0"}

    def activate(self, context):
        pass

plugin = Base()
"""

OLD_STYLE = """
from flx_plugin import FlxPlugin, PluginContext

class Old(FlxPlugin):
    name = "old"
    version = "1.0.0"

    def activate(self, context: PluginContext) -> None:
        pass
"""


def rename_manifest(folder: Path) -> Path:
    legacy = folder / "flx-plugin.toml"
    (folder / "flx-extension.toml").rename(legacy)
    return legacy


async def test_a_folder_with_flx_plugin_toml_loads(
    app, make_extension, manager_for, extension_dir: Path
) -> None:
    rename_manifest(make_extension("old-style"))
    make_extension("new-style")
    manager = manager_for(app)
    await manager.start()
    assert manager.records["old-style"].state is ExtensionState.ACTIVE
    assert manager.records["new-style"].state is ExtensionState.ACTIVE


async def test_flx_extension_toml_wins_over_flx_plugin_toml(make_extension, extension_dir) -> None:
    folder = make_extension("both", version="2.0.0")
    (folder / "flx-plugin.toml").write_text(
        'name = "both"\nversion = "1.0.0"\nentry = "pkg:plugin"\n'
    )
    (found,) = await ExtensionDiscovery(extension_dir, entry_points=False).scan()
    assert found.version == "2.0.0"


async def test_the_flx_plugins_entry_point_group_is_read(install, extension_dir) -> None:
    install(
        "flx-base",
        "1.1.0",
        {"base": "base_pkg:plugin"},
        {"base_pkg.py": BASE},
        groups=("flx.plugins",),
    )
    manager = ExtensionManager(ExtensionConfig(watch_dir=extension_dir, flx_version="0.1.0"))
    await manager.start()
    assert manager.records["base"].state is ExtensionState.ACTIVE
    assert manager.records["base"].extension.origin == "entry_point"
    manager.stop()


async def test_one_entry_point_in_both_groups_is_found_once(install, extension_dir) -> None:
    install(
        "flx-base",
        "1.1.0",
        {"base": "base_pkg:plugin"},
        {"base_pkg.py": BASE},
        groups=("flx.extensions", "flx.plugins"),
    )
    found = await ExtensionDiscovery(extension_dir).scan()
    assert [(f.name, f.origin) for f in found] == [("base", "entry_point")]


def test_plugins_toml_is_read_when_there_is_no_extensions_toml(flx_home: Path) -> None:
    flx_home.mkdir()
    (flx_home / "plugins.toml").write_text(
        '[plugins.alerts]\nversion = "==1.0.0"\nlevel = "high"\n[plugins.off]\nenabled = false\n'
    )
    config = load_extension_config(load_settings())
    assert config.path == flx_home / "plugins.toml" and config.file_name == "plugins.toml"
    assert config.pins == {"alerts": "==1.0.0"} and config.disabled == {"off"}
    assert config.options["alerts"] == {"level": "high"}

    (flx_home / "extensions.toml").write_text("[extensions.other]\nenabled = false\n")
    config = load_extension_config(load_settings())
    assert config.path == flx_home / "extensions.toml"
    assert config.pins == {} and config.disabled == {"other"}


def test_a_bad_plugins_toml_names_its_own_keys(flx_home: Path) -> None:
    from flx_plugin import ExtensionConfigError

    flx_home.mkdir()
    (flx_home / "plugins.toml").write_text('[plugins.webhook]\nversion = "not a spec"\n')
    with pytest.raises(ExtensionConfigError, match=r"plugins\.webhook\.version 'not a spec'"):
        load_extension_config(load_settings())


def test_reasons_name_the_file_that_disables(flx_home: Path, make_extension, monkeypatch) -> None:
    monkeypatch.setenv("FLX_PLUGIN_WATCH_DIRECTORY", str(make_extension("off").parent))
    flx_home.mkdir()
    (flx_home / "plugins.toml").write_text("[plugins.off]\nenabled = false\n")
    (row,) = extension_rows(load_settings())
    assert (row["state"], row["reason"]) == ("inactive", "disabled in plugins.toml")


def test_flx_home_plugins_d_is_watched_when_there_is_no_extensions_d(flx_home: Path) -> None:
    assert load_extension_config(load_settings()).watch_dir == (flx_home / "extensions.d").resolve()
    (flx_home / "plugins.d").mkdir(parents=True)
    assert load_extension_config(load_settings()).watch_dir == (flx_home / "plugins.d").resolve()
    (flx_home / "extensions.d").mkdir()
    assert load_extension_config(load_settings()).watch_dir == (flx_home / "extensions.d").resolve()


async def test_a_running_manager_follows_plugins_toml(app, make_extension, extension_dir) -> None:
    legacy = extension_dir.parent / "plugins.toml"
    legacy.write_text("[plugins.quiet]\nlevel = 1\n")
    make_extension("quiet")
    config = ExtensionConfig(
        watch_dir=extension_dir, flx_version="0.1.0", path=extension_dir.parent / "extensions.toml"
    )
    from flx_plugin.config import reread

    manager = ExtensionManager(reread(config), app, entry_points=False)
    await manager.start()
    assert manager.config.path == legacy
    legacy.write_text("[plugins.quiet]\nenabled = false\n")
    manager.handle_changes([legacy])
    record = manager.records["quiet"]
    assert (record.state, record.reason) == (ExtensionState.INACTIVE, "disabled in plugins.toml")

    current = extension_dir.parent / "extensions.toml"
    current.write_text("[extensions.quiet]\nlevel = 2\n")
    manager.handle_changes([current])
    assert manager.records["quiet"].state is ExtensionState.ACTIVE
    assert manager.records["quiet"].context.config == {"level": 2}
    manager.stop()


def test_a_status_file_with_plugins_rows_is_read(flx_home, make_extension, monkeypatch) -> None:
    folder = make_extension("good")
    monkeypatch.setenv("FLX_PLUGIN_WATCH_DIRECTORY", str(folder.parent))
    live = {"name": "good", "state": "active", "version": "9.9.9"}
    write_status(folder.parent, {"pid": os.getpid(), "plugins": [live]})
    assert extension_rows(load_settings()) == [{**live, "live": True}]


async def test_flx_plugin_and_plugin_context_still_import(app, make_extension, manager_for) -> None:
    with pytest.warns(
        DeprecationWarning, match="flx_plugin.FlxPlugin is now flx_plugin.FlxExtension"
    ):
        from flx_plugin import FlxPlugin
    with pytest.warns(DeprecationWarning, match="PluginContext is now flx_plugin.ExtensionContext"):
        from flx_plugin import PluginContext
    assert FlxPlugin is FlxExtension and PluginContext is ExtensionContext

    folder = make_extension("old", code=OLD_STYLE)
    (folder / "flx-extension.toml").write_text(
        'name = "old"\nversion = "1.0.0"\nentry = "pkg:Old"\n'
    )
    manager = manager_for(app)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        await manager.start()
    assert manager.records["old"].state is ExtensionState.ACTIVE


def test_unknown_names_are_still_errors() -> None:
    import flx_plugin

    with pytest.raises(AttributeError, match="has no attribute 'Plugin'"):
        _ = flx_plugin.Plugin
