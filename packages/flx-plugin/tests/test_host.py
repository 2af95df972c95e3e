"""Extensions in FLX processes: active on a bootstrapped application, their `flx` commands,
and the rows and report other processes read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flx_core.application import ProcessKind, Wiring, core_module
from flx_core.bootstrap import bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal
from flx_core.domain.ports import SystemClock
from flx_core.testing import InMemoryWorld
from flx_plugin import (
    cli_commands,
    extension_rows,
    resolution_report,
)
from flx_plugin.host import build_module
from flx_plugin.status import write_status

CLI_CODE = """
import click

class P:
    def activate(self, context):
        context.add_cli_command(click.Command("hello", callback=lambda: None))

plugin = P()
"""


@pytest.fixture
def extensions_d(flx_home: Path, extension_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The watch directory, set the way operators set it."""
    monkeypatch.setenv("FLX_PLUGIN_WATCH_DIRECTORY", str(extension_dir))
    return extension_dir


def test_no_extensions_means_no_work(flx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a manager was made with nothing to load")

    monkeypatch.setattr("flx_plugin.host.ExtensionManager", forbidden)
    assert cli_commands(load_settings()) == []


def test_cli_commands_come_from_active_extensions(extensions_d: Path, make_extension) -> None:
    make_extension("greeter", code=CLI_CODE)
    make_extension("broken", code="raise RuntimeError('no')\n")
    assert [c.name for c in cli_commands(load_settings())] == ["hello"]


async def test_extensions_are_active_on_a_bootstrapped_application(
    extensions_d: Path, make_extension, extension_code
) -> None:
    make_extension("pinger", code=extension_code.format(tag="H", answer="from an extension"))
    settings = load_settings()
    extensions = build_module(Wiring(ProcessKind.CLI, settings, None, SystemClock()))
    runtime = await bootstrap(
        settings, modules=[core_module, extensions], uow_factory=InMemoryWorld().uow
    )
    ping = next(
        module.PingH
        for name, module in sys.modules.items()
        if name.startswith("_flx_extensions.pinger_g") and name.endswith(".pkg")
    )
    result = await runtime.app.execute(ping(), principal=Principal.system())
    assert result.value == "from an extension"
    await runtime.aclose()
    result = await runtime.app.execute(ping(), principal=Principal.system())
    assert result.error_code == "no_handler"


def test_rows_without_a_watcher_say_what_would_load(
    flx_home: Path, extensions_d: Path, make_extension
) -> None:
    make_extension("good", version="1.2.0")
    make_extension("needy", requires=["ghost"])
    make_extension("off")
    (extensions_d / "bad").mkdir()
    (extensions_d / "bad" / "flx-extension.toml").write_text('name = "bad"\n')
    flx_home.mkdir()
    (flx_home / "extensions.toml").write_text("[extensions.off]\nenabled = false\n")
    rows = {r["name"]: r for r in extension_rows(load_settings())}
    assert {n: (r["state"], r["reason"]) for n, r in rows.items()} == {
        "bad": (
            "failed",
            f"{extensions_d / 'bad' / 'flx-extension.toml'}: field 'version': Field required",
        ),
        "good": ("resolved", None),
        "needy": ("failed", "requires ghost, which is missing"),
        "off": ("inactive", "disabled in extensions.toml"),
    }
    assert rows["good"]["version"] == "1.2.0" and rows["good"]["kind"] == "extension"
    assert rows["good"]["source"] == str(extensions_d / "good")
    assert not any(r["live"] for r in rows.values())


def test_rows_come_from_a_live_watcher(extensions_d: Path, make_extension) -> None:
    make_extension("good")
    live = {"name": "good", "state": "active", "version": "9.9.9"}
    write_status(extensions_d, {"pid": os.getpid(), "extensions": [live]})
    assert extension_rows(load_settings()) == [{**live, "live": True}]

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    write_status(extensions_d, {"pid": int(gone.stdout), "extensions": [live]})
    (row,) = extension_rows(load_settings())
    assert row["state"] == "resolved" and row["live"] is False


def test_the_report_names_cycles_and_conflicts(extensions_d: Path, make_extension) -> None:
    make_extension("a", requires=["b"])
    make_extension("b", requires=["a"])
    make_extension("alerts", version="1.3.0")
    make_extension("needs-new", requires=["alerts>=2"])
    report = resolution_report(load_settings())
    assert not report["ok"]
    assert report["cycles"] in ([["a", "b", "a"]], [["b", "a", "b"]])
    assert report["conflicts"] == [
        "version conflict on alerts: needs-new requires alerts>=2; available: alerts 1.3.0"
    ]
    assert [p["name"] for p in report["order"]] == ["alerts"]
    assert set(report["failed"]) == {"a", "b", "needs-new"}
