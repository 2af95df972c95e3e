"""`flx plugin info|reload|watch|doctor`: extension plugins (added to the `flx plugin` group)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import click

from flx_cli.output import print_json, print_mapping, print_table
from flx_cli.state import CliState, fail, pass_state


def _config(state: CliState) -> Any:
    from flx_plugin import PluginConfigError, load_plugin_config

    try:
        return load_plugin_config(state.settings())
    except PluginConfigError as exc:
        fail(str(exc), 2)


@click.command("info")
@click.argument("name")
@pass_state
def info(state: CliState, name: str) -> None:
    """Show extension plugin NAME: version, source, state, reason, requirements."""
    from flx_plugin import extension_rows

    rows = [r for r in extension_rows(state.settings()) if r["name"] == name]
    if not rows:
        fail(f"no extension plugin named {name!r}")
    chosen = next((r for r in rows if r["state"] in ("active", "resolved")), rows[0])
    if state.json:
        print_json(chosen if len(rows) == 1 else {**chosen, "versions": rows})
    else:
        print_mapping(f"Plugin {name}", chosen)


@click.command("reload")
@click.argument("name")
@pass_state
def reload(state: CliState, name: str) -> None:
    """Check that NAME loads, and make a running `flx plugin watch` reload it."""
    from pathlib import Path

    from flx_plugin import PluginManager

    manager = PluginManager(_config(state), settings=state.settings())
    asyncio.run(manager.start())
    record = manager.records.get(name)
    if record is None:
        fail(f"no extension plugin named {name!r}")
    ok = manager.reload(name)
    manager.stop()
    if not ok:
        fail(f"{name} does not load: {record.reason or manager.events[-1]}")
    if record.plugin is not None and record.plugin.source == "directory":
        (Path(record.plugin.location) / "flx-plugin.toml").touch()
    click.echo(f"{name} loads; a running watcher reloads it now")


@click.command("watch")
@pass_state
def watch(state: CliState) -> None:
    """Load the plugins and reload them as their folders change, until Ctrl-C."""
    from flx_plugin import PluginManager, watch as watch_dir

    config = _config(state)

    async def main() -> None:
        from flx_core.bootstrap import bootstrap

        runtime = await bootstrap(state.settings())
        manager = PluginManager(config, runtime.app, settings=state.settings(), status_file=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await manager.start()
            for line in manager.events:
                click.echo(line)
            click.echo(f"watching {config.watch_dir} (Ctrl-C to stop)")
            await watch_dir(manager, stop, on_batch=lambda lines: [click.echo(x) for x in lines])
        finally:
            manager.stop()
            (config.watch_dir / ".status.json").unlink(missing_ok=True)
            await runtime.aclose()

    asyncio.run(main())


@click.command("doctor")
@pass_state
def doctor(state: CliState) -> None:
    """The resolution report: load order, failures, conflicts, cycles; non-zero on failure."""
    from flx_plugin import PluginManager

    manager = PluginManager(_config(state), settings=state.settings())
    found = manager.discover()
    res = manager.resolve(found)
    report = {
        "watch_dir": str(manager.config.watch_dir),
        "order": [f"{p.name} {p.version}" for p in res.order],
        "failed": res.failed,
        "conflicts": res.conflicts,
        "cycles": [" -> ".join(c) for c in res.cycles],
        "disabled": res.disabled,
        "not_chosen": res.skipped,
    }
    if state.json:
        print_json(report)
    else:
        click.echo(f"plugins in {report['watch_dir']} and entry points")
        click.echo("load order: " + (", ".join(report["order"]) or "(none)"))
        for cycle in report["cycles"]:
            click.echo(f"cycle: {cycle}")
        for conflict in res.conflicts:
            click.echo(f"conflict: {conflict}")
        if res.failed:
            print_table("Failed", ["plugin", "reason"], sorted(res.failed.items()))
    if res.failed:
        raise SystemExit(1)


def register(group: click.Group) -> None:
    for command in (info, reload, watch, doctor):
        group.add_command(command)
