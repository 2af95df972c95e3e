"""`flx plugin info|reload|watch|doctor`: extension plugins (added to the `flx plugin` group)."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import EXIT_USAGE, CliContext, fail, pass_cli
from flx_cli.output import print_json, print_mapping, print_table

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_plugin import PluginConfig


def _config(cli: CliContext) -> PluginConfig:
    from flx_plugin import PluginConfigError, load_plugin_config

    try:
        return load_plugin_config(cli.settings())
    except PluginConfigError as exc:
        fail(str(exc), EXIT_USAGE)


@click.command("info")
@click.argument("name")
@pass_cli
def info(cli: CliContext, name: str) -> None:
    """Show extension plugin NAME: version, source, cli, reason, requirements.

    What a running `flx plugin watch` has active (live), else what would load.
    """
    from flx_plugin import PluginConfigError, extension_rows

    try:
        rows = [r for r in extension_rows(cli.settings()) if r["name"] == name]
    except PluginConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if not rows:
        fail(f"no extension plugin named {name!r}")
    chosen = next((r for r in rows if r["state"] in ("active", "resolved")), rows[0])
    others = [r for r in rows if r is not chosen]
    shown = {**chosen, "others": others} if others else chosen
    if cli.json:
        print_json(shown)
    else:
        print_mapping(f"Plugin {name}", shown)


def _await_answer(watch_dir: Any, token: str, timeout: float) -> dict[str, Any] | None:
    from flx_plugin import read_status

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(watch_dir)
        if status is None:
            fail("the watcher stopped before answering")
        answer: dict[str, Any] | None = status.get("requests", {}).get(token)
        if answer is not None:
            return answer
        time.sleep(0.1)
    return None


@click.command("reload")
@click.argument("name")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a watcher.")
@pass_cli
def reload(cli: CliContext, name: str, timeout: float) -> None:
    """Reload NAME in the running `flx plugin watch`, or check that it loads if none runs."""
    from flx_plugin import PluginManager, read_status, request_reload

    config = _config(cli)
    status = read_status(config.watch_dir)
    if status is not None:
        token = request_reload(config.watch_dir, name)
        answer = _await_answer(config.watch_dir, token, timeout)
        if answer is None:
            fail(f"the watcher (pid {status['pid']}) did not answer within {timeout:g}s")
        if not answer["ok"]:
            fail(f"{name} did not reload: {answer['reason']}")
        click.echo(f"reloaded {name} {answer['version']} in the watcher (pid {status['pid']})")
        return
    manager = PluginManager(config, settings=cli.settings())
    manager.load_all()
    record = manager.records.get(name)
    loads = record is not None and record.active
    manager.stop()
    if record is None:
        fail(f"no extension plugin named {name!r}")
    if not loads:
        fail(f"{name} does not load: {record.reason}")
    click.echo(
        f"{name} {record.plugin.version} loads (no `flx plugin watch` runs: nothing to reload)"
    )


@click.command("watch")
@click.option(
    "--debounce", default=800, show_default=True, help="Milliseconds to group a burst of changes."
)
@pass_cli
def watch(cli: CliContext, debounce: int) -> None:
    """Load the plugins and follow their folders (and plugins.toml) until Ctrl-C.

    Prints one line per load, reload, unload and failure, and keeps the status file that
    `flx plugin info` and `flx plugin list` read from other shells.
    """
    from flx_plugin import PluginManager

    config = _config(cli)
    settings = cli.settings()

    def say(line: str) -> None:
        click.echo(line)

    async def main(runtime: Runtime) -> None:
        manager = runtime.app.services.find(PluginManager)
        if manager is None:
            manager = PluginManager(config, runtime.app, settings=settings, on_event=say)
            await manager.start()
        else:  # activated when the application started
            for line in manager.events:
                say(line)
            manager.on_event = say
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        say(f"watching {config.watch_dir} (Ctrl-C to stop)")
        try:
            await manager.watch(stop, debounce_ms=debounce)
        finally:
            manager.stop()
            say("stopped")

    cli.run(main)


@click.command("doctor")
@pass_cli
def doctor(cli: CliContext) -> None:
    """The resolution report: load order, failures, conflicts, cycles; exit 1 on a failure."""
    from flx_plugin import PluginConfigError, resolution_report

    try:
        report = resolution_report(cli.settings())
    except PluginConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if cli.json:
        print_json(report)
    else:
        _print_report(report)
    if not report["ok"]:
        raise SystemExit(1)


def _print_report(report: dict[str, Any]) -> None:
    click.echo(f"plugins in {report['watch_dir']} and entry points (FLX {report['flx_version']})")
    order = ", ".join(f"{p['name']} {p['version']}" for p in report["order"])
    click.echo(f"load order: {order or '(none)'}")
    for cycle in report["cycles"]:
        click.echo(f"cycle: {' -> '.join(cycle)}")
    for conflict in report["conflicts"]:
        click.echo(f"conflict: {conflict}")
    for error in report["invalid"].values():
        click.echo(f"invalid manifest: {error}")
    for name in report["disabled"]:
        click.echo(f"disabled: {name}")
    for name, versions in report["not_chosen"].items():
        click.echo(f"not chosen: {name} {', '.join(versions)}")
    if report["failed"]:
        print_table("Failed", ["plugin", "reason"], sorted(report["failed"].items()))
    click.echo("ok" if report["ok"] else "problems found")


def register(group: click.Group) -> None:
    """Add the extension-plugin commands to the `flx plugin` group."""
    for command in (info, reload, watch, doctor):
        group.add_command(command)
