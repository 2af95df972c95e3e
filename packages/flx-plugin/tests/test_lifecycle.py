"""Activation registers on the real buses; deactivation and failures undo every registration."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from flx_core.application import Application
from flx_core.domain import Principal
from flx_core.domain.events import ExecutionFailed
from flx_plugin import ExtensionDiscovery, ExtensionLoader, ExtensionState

SYSTEM = Principal.system()

EVERYTHING = """
import click
from flx_core.application import Command, Query
from flx_core.domain import Permission, ServiceResult
from flx_core.domain.events import ExecutionFailed

class Shout(Command):
    permission = Permission.PIPELINE_READ

class Count(Query):
    permission = Permission.PIPELINE_READ

seen = []

async def shout(cmd, ctx):
    return ServiceResult.success("HEY")

async def count(query, ctx):
    return ServiceResult.success(len(seen))

async def on_failed(event, ctx):
    seen.append(event.pipeline_name)

@click.command("hello")
def hello():
    click.echo("hello from a plugin")

class Plugin:
    def activate(self, context):
        context.register_command(Shout, shout)
        context.register_query(Count, count)
        context.subscribe(ExecutionFailed, on_failed)
        context.add_cli_command(hello)
        context.add_connector("tap-everything", ["tap-everything", "--about"])
{deactivate}
plugin = Plugin()
"""
RUDE_DEACTIVATE = "    def deactivate(self, context):\n        raise RuntimeError('rude')\n"


async def failed(app: Application, pipeline: str) -> None:
    event = ExecutionFailed(
        aggregate_id="e1", pipeline_name=pipeline, duration_seconds=1.0, error="boom"
    )
    await app.publish(event, principal=SYSTEM)


async def test_seed_usage_scan_then_load(extension_dir: Path, make_extension) -> None:
    make_extension("hello")
    found = await ExtensionDiscovery(extension_dir, entry_points=False).scan()
    loaded = await ExtensionLoader().load_extension(found[0])
    assert callable(loaded.target.activate)
    assert loaded.namespace is not None and loaded.namespace.startswith("_flx_extensions.hello_g")
    loaded.drop_modules()


async def test_every_registration_is_real_and_undone(
    app, make_extension, manager_for, module_of
) -> None:
    make_extension("everything", code=EVERYTHING.format(deactivate=""))
    manager = manager_for(app)
    await manager.start()
    record = manager.records["everything"]
    assert record.state is ExtensionState.ACTIVE and record.activated_at is not None
    assert record.context is not None and record.context.registrations == 5
    mod = module_of(manager, "everything")
    assert (await app.execute(mod.Shout(), principal=SYSTEM)).value == "HEY"
    await failed(app, "orders")
    assert (await app.execute(mod.Count(), principal=SYSTEM)).value == 1
    assert manager.registry.cli_commands["hello"][0] == "everything"
    assert manager.registry.connectors["tap-everything"][1] == ["tap-everything", "--about"]

    manager.stop()
    assert record.state is ExtensionState.INACTIVE
    assert (await app.execute(mod.Shout(), principal=SYSTEM)).error_code == "no_handler"
    assert (await app.execute(mod.Count(), principal=SYSTEM)).error_code == "no_handler"
    await failed(app, "orders")
    assert mod.seen == ["orders"]
    assert manager.registry.cli_commands == {} and manager.registry.connectors == {}


async def test_a_deactivate_that_raises_still_unregisters(
    app, make_extension, manager_for, module_of
) -> None:
    make_extension("rude", code=EVERYTHING.format(deactivate=RUDE_DEACTIVATE))
    manager = manager_for(app)
    await manager.start()
    mod = module_of(manager, "rude")
    manager.stop()
    assert (await app.execute(mod.Shout(), principal=SYSTEM)).error_code == "no_handler"
    await failed(app, "orders")
    assert mod.seen == []
    assert manager.registry.cli_commands == {}
    assert "warning rude: deactivate() raised RuntimeError: rude" in manager.events


async def test_failing_activate_marks_failed_and_leaves_nothing(
    app, make_extension, manager_for, extension_code
) -> None:
    code = extension_code.format(tag="C", answer="x").replace(
        "context.register_command(PingC, pong)",
        "context.register_command(PingC, pong)\n        raise ValueError('half way')",
    )
    make_extension("half", code=code)
    make_extension("ok")
    manager = manager_for(app)
    await manager.start()
    half = manager.records["half"]
    assert half.state is ExtensionState.FAILED
    assert half.reason == "activate() raised ValueError: half way"
    assert manager.records["ok"].state is ExtensionState.ACTIVE
    assert not any(k.__name__ == "PingC" for k in app._commands)
    assert not any(k.startswith("_flx_extensions.half_") for k in sys.modules)


async def test_import_errors_and_missing_activate_are_reasons(
    app, make_extension, manager_for
) -> None:
    make_extension("syntax", code="def broken(:\n")
    make_extension("inert", code="plugin = object()\n")
    make_extension("needs-syntax", requires=["syntax"])
    manager = manager_for(app)
    await manager.start()
    assert "cannot import pkg:plugin: SyntaxError" in manager.records["syntax"].reason
    assert manager.records["inert"].reason == "pkg:plugin has no activate(context)"
    assert manager.records["needs-syntax"].reason.startswith(
        "requires syntax, which does not load: cannot import pkg:plugin: SyntaxError"
    )


async def test_dependencies_activate_first_and_stop_last(app, make_extension, manager_for) -> None:
    log_code = (
        "import builtins\n"
        "class P:\n"
        "    def activate(self, context):\n"
        "        builtins.flx_test_calls.append(('on', context.name))\n"
        "    def deactivate(self, context):\n"
        "        builtins.flx_test_calls.append(('off', context.name))\n"
        "plugin = P()\n"
    )
    import builtins

    builtins.flx_test_calls = []  # type: ignore[attr-defined]
    try:
        make_extension("app", requires=["base"], code=log_code)
        make_extension("base", code=log_code)
        manager = manager_for(app)
        await manager.start()
        manager.stop()
        assert builtins.flx_test_calls == [  # type: ignore[attr-defined]
            ("on", "base"),
            ("on", "app"),
            ("off", "app"),
            ("off", "base"),
        ]
    finally:
        del builtins.flx_test_calls  # type: ignore[attr-defined]


async def test_without_a_bus_only_commands_are_collected(make_extension, manager_for) -> None:
    make_extension("everything", code=EVERYTHING.format(deactivate=""))
    manager = manager_for(None)
    await manager.start()
    record = manager.records["everything"]
    assert record.state is ExtensionState.ACTIVE
    assert record.context is not None and not record.context.has_bus
    assert isinstance(manager.registry.cli_commands["hello"][1], click.Command)


async def test_two_extensions_cannot_own_one_command(app, make_extension, manager_for) -> None:
    make_extension("first", code=EVERYTHING.format(deactivate=""))
    make_extension("second", code=EVERYTHING.format(deactivate=""))
    manager = manager_for(app)
    await manager.start()
    second = manager.records["second"]
    assert second.state is ExtensionState.FAILED
    assert second.reason == (
        "activate() raised ValueError: command 'hello' is already provided by extension 'first'"
    )
    assert manager.registry.cli_commands["hello"][0] == "first"
    assert manager.records["first"].state is ExtensionState.ACTIVE
