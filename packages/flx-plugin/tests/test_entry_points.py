"""Extensions of installed distributions, found through real entry points (``.dist-info``)."""

from __future__ import annotations

from pathlib import Path

from flx_core.domain import Principal
from flx_plugin import ExtensionConfig, ExtensionDiscovery, ExtensionManager, ExtensionState

SYSTEM = Principal.system()

ALERTS = """
from flx_core.application import Command
from flx_core.domain import Permission, ServiceResult
from flx_plugin import FlxExtension

class Ring(Command):
    permission = Permission.PIPELINE_READ

async def ring(cmd, ctx):
    return ServiceResult.success("ring")

class Alerts(FlxExtension):
    name = "alerts"
    version = "2.0.0"
    description = "Rings"
    requires = ("base>=1",)
    provides = ("command:Ring",)
    activations = 0

    def activate(self, context):
        type(self).activations += 1
        context.register_command(Ring, ring)
"""

BASE = """
class Base:
    manifest = {"name": "base", "version": "1.1.0"}

    def activate(self, context):
        pass

plugin = Base()
"""


def manager(extension_dir: Path, app=None, **config: object) -> ExtensionManager:
    return ExtensionManager(
        ExtensionConfig(watch_dir=extension_dir, flx_version="0.1.0", **config),  # type: ignore[arg-type]
        app,
    )


async def test_installed_extensions_load_from_their_entry_points(
    app, install, extension_dir
) -> None:
    install("flx-alerts", "2.0.0", {"alerts": "alerts_pkg:Alerts"}, {"alerts_pkg.py": ALERTS})
    install("flx-base", "1.1.0", {"base": "base_pkg:plugin"}, {"base_pkg.py": BASE})
    found = await ExtensionDiscovery(extension_dir).scan()
    assert {p.name: p.origin for p in found} == {"alerts": "entry_point", "base": "entry_point"}

    extensions = manager(extension_dir, app)
    await extensions.start()
    alerts = extensions.records["alerts"]
    assert alerts.state is ExtensionState.ACTIVE
    assert alerts.extension.source == "entry point alerts_pkg:Alerts (flx-alerts 2.0.0)"
    assert alerts.extension.manifest.entry == "alerts_pkg:Alerts"
    assert extensions.records["base"].state is ExtensionState.ACTIVE
    import alerts_pkg

    assert (await app.execute(alerts_pkg.Ring(), principal=SYSTEM)).value == "ring"
    assert extensions.reload("alerts")
    assert alerts_pkg.Alerts.activations == 2
    assert (await app.execute(alerts_pkg.Ring(), principal=SYSTEM)).value == "ring"
    extensions.stop()
    assert (await app.execute(alerts_pkg.Ring(), principal=SYSTEM)).error_code == "no_handler"


async def test_broken_entry_points_are_reported_and_the_others_load(install, extension_dir) -> None:
    install(
        "flx-broken",
        "1.0.0",
        {"broken": "broken_pkg:plugin", "bare": "bare_pkg:plugin"},
        {"broken_pkg.py": "raise ImportError('no luck')\n", "bare_pkg.py": "plugin = object()\n"},
    )
    install("flx-base", "1.1.0", {"base": "base_pkg:plugin"}, {"base_pkg.py": BASE})
    extensions = manager(extension_dir)
    await extensions.start()
    assert extensions.records["base"].state is ExtensionState.ACTIVE
    errors = {r["source"]: r["reason"] for r in extensions.snapshot() if r["state"] == "failed"}
    assert errors == {
        "entry point broken_pkg:plugin (flx-broken 1.0.0)": (
            "entry point broken = broken_pkg:plugin: cannot import: ImportError: no luck"
        ),
        "entry point bare_pkg:plugin (flx-broken 1.0.0)": (
            "entry point bare = bare_pkg:plugin: has no manifest "
            "(a 'manifest' dict or FlxExtension attributes)"
        ),
    }


async def test_a_folder_and_an_entry_point_of_one_name_resolve_together(
    install, extension_dir, make_extension
) -> None:
    install("flx-base", "1.1.0", {"base": "base_pkg:plugin"}, {"base_pkg.py": BASE})
    make_extension("base-local", name="base", version="1.0.0")
    extensions = manager(extension_dir)
    await extensions.start()
    assert extensions.records["base"].extension.origin == "entry_point"
    assert extensions.snapshot()[0]["versions"] == ["1.0.0", "1.1.0"]

    pinned = manager(extension_dir, pins={"base": "==1.0.0"})
    await pinned.start()
    assert pinned.records["base"].extension.location.endswith("base-local")
    pinned.stop()
    extensions.stop()
