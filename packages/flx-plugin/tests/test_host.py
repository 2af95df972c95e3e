"""Plugins in FLX processes: active on a bootstrapped application, their `flx` commands,
and the rows and report other processes read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flx_core.application import core_module
from flx_core.bootstrap import bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal
from flx_core.testing import InMemoryWorld
from flx_plugin import (
    PluginManager,
    cli_commands,
    extension_rows,
    resolution_report,
)
from flx_plugin.host import module as plugin_module
from flx_plugin.status import write_status

CLI_CODE = """
import click

class P:
    def activate(self, context):
        context.add_cli_command(click.Command("hello", callback=lambda: None))

plugin = P()
"""


@pytest.fixture
def plugins_d(flx_home: Path, plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The watch directory, set the way operators set it."""
    monkeypatch.setenv("FLX_PLUGIN_WATCH_DIRECTORY", str(plugin_dir))
    return plugin_dir


def test_no_plugins_means_no_work(flx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a manager was made with nothing to load")

    monkeypatch.setattr("flx_plugin.host.PluginManager", forbidden)
    assert cli_commands(load_settings()) == []


def test_cli_commands_come_from_active_plugins(plugins_d: Path, make_plugin) -> None:
    make_plugin("greeter", code=CLI_CODE)
    make_plugin("broken", code="raise RuntimeError('no')\n")
    assert [c.name for c in cli_commands(load_settings())] == ["hello"]


async def test_plugins_are_active_on_a_bootstrapped_application(
    plugins_d: Path, make_plugin, plugin_code
) -> None:
    make_plugin("pinger", code=plugin_code.format(tag="H", answer="from a plugin"))
    runtime = await bootstrap(
        load_settings(), modules=[core_module, plugin_module], uow_factory=InMemoryWorld().uow
    )
    manager = runtime.app.services.get(PluginManager)
    loaded = manager.records["pinger"].loaded
    ping = sys.modules[f"{loaded.namespace}.pkg"].PingH
    result = await runtime.app.execute(ping(), principal=Principal.system())
    assert result.value == "from a plugin"
    await runtime.aclose()
    result = await runtime.app.execute(ping(), principal=Principal.system())
    assert result.error_code == "no_handler"


def test_rows_without_a_watcher_say_what_would_load(
    flx_home: Path, plugins_d: Path, make_plugin
) -> None:
    make_plugin("good", version="1.2.0")
    make_plugin("needy", requires=["ghost"])
    make_plugin("off")
    (plugins_d / "bad").mkdir()
    (plugins_d / "bad" / "flx-plugin.toml").write_text('name = "bad"\n')
    flx_home.mkdir()
    (flx_home / "plugins.toml").write_text("[plugins.off]\nenabled = false\n")
    rows = {r["name"]: r for r in extension_rows(load_settings())}
    assert {n: (r["state"], r["reason"]) for n, r in rows.items()} == {
        "bad": (
            "failed",
            f"{plugins_d / 'bad' / 'flx-plugin.toml'}: field 'version': Field required",
        ),
        "good": ("resolved", None),
        "needy": ("failed", "requires ghost, which is missing"),
        "off": ("inactive", "disabled in plugins.toml"),
    }
    assert rows["good"]["version"] == "1.2.0" and rows["good"]["kind"] == "extension"
    assert rows["good"]["source"] == str(plugins_d / "good")
    assert not any(r["live"] for r in rows.values())


def test_rows_come_from_a_live_watcher(plugins_d: Path, make_plugin) -> None:
    make_plugin("good")
    live = {"name": "good", "state": "active", "version": "9.9.9"}
    write_status(plugins_d, {"pid": os.getpid(), "plugins": [live]})
    assert extension_rows(load_settings()) == [{**live, "live": True}]

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    write_status(plugins_d, {"pid": int(gone.stdout), "plugins": [live]})
    (row,) = extension_rows(load_settings())
    assert row["state"] == "resolved" and row["live"] is False


def test_the_report_names_cycles_and_conflicts(plugins_d: Path, make_plugin) -> None:
    make_plugin("a", requires=["b"])
    make_plugin("b", requires=["a"])
    make_plugin("alerts", version="1.3.0")
    make_plugin("needs-new", requires=["alerts>=2"])
    report = resolution_report(load_settings())
    assert not report["ok"]
    assert report["cycles"] in ([["a", "b", "a"]], [["b", "a", "b"]])
    assert report["conflicts"] == [
        "version conflict on alerts: needs-new requires alerts>=2; available: alerts 1.3.0"
    ]
    assert [p["name"] for p in report["order"]] == ["alerts"]
    assert set(report["failed"]) == {"a", "b", "needs-new"}
