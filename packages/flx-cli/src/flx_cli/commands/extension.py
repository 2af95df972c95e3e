"""`flx extension list|info|reload|watch|doctor`: the extensions of FLX (flx-plugin)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import EXIT_USAGE, CliContext, fail, pass_cli
from flx_cli.output import json_option, print_json, print_mapping, print_table

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_plugin import ExtensionConfig


@click.group()
def extension() -> None:
    """Extensions: code that extends FLX (bus handlers, `flx` commands, connectors)."""


def _config(cli: CliContext) -> ExtensionConfig:
    from flx_plugin import ExtensionConfigError, load_extension_config

    try:
        return load_extension_config(cli.settings())
    except ExtensionConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def _rows(cli: CliContext) -> list[dict[str, Any]]:
    from flx_plugin import ExtensionConfigError, extension_rows

    try:
        return extension_rows(cli.settings())
    except ExtensionConfigError as exc:
        fail(str(exc), EXIT_USAGE)


@extension.command("list")
@json_option
@pass_cli
def list_extensions(cli: CliContext) -> None:
    """List the extensions: kind, version, source, state and why one does not run.

    What a running `flx extension watch` has active (live), else what would load.
    """
    rows = _rows(cli)
    if cli.json:
        print_json(rows)
        return
    if not rows:
        config = _config(cli)
        click.echo(f"no extensions (folders in {config.watch_dir}, or installed entry points)")
        return
    print_table(
        "Extensions",
        ["name", "kind", "version", "source", "state", "reason"],
        [
            (
                r.get("name"),
                r.get("kind"),
                r.get("version"),
                r.get("source"),
                r.get("state"),
                r.get("reason") or "",
            )
            for r in rows
        ],
    )


@extension.command("info")
@click.argument("name")
@json_option
@pass_cli
def info(cli: CliContext, name: str) -> None:
    """Show extension NAME: version, source, state, reason, requirements.

    What a running `flx extension watch` has active (live), else what would load.
    """
    rows = [r for r in _rows(cli) if r["name"] == name]
    if not rows:
        fail(f"no extension named {name!r}")
    chosen = next((r for r in rows if r["state"] in ("active", "resolved")), rows[0])
    others = [r for r in rows if r is not chosen]
    shown = {**chosen, "others": others} if others else chosen
    if cli.json:
        print_json(shown)
    else:
        print_mapping(f"Extension {name}", shown)


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


@extension.command("reload")
@click.argument("name")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a watcher.")
@json_option
@pass_cli
def reload(cli: CliContext, name: str, timeout: float) -> None:
    """Reload NAME in the running `flx extension watch`, or check that it loads if none runs."""
    from flx_plugin import ExtensionManager, read_status, request_reload

    config = _config(cli)
    status = read_status(config.watch_dir)
    if status is not None:
        token = request_reload(config.watch_dir, name)
        answer = _await_answer(config.watch_dir, token, timeout)
        if answer is None:
            fail(f"the watcher (pid {status['pid']}) did not answer within {timeout:g}s")
        if not answer["ok"]:
            fail(f"{name} did not reload: {answer['reason']}")
        if cli.json:
            print_json(
                {"name": name, "version": answer["version"], "reloaded": True, "pid": status["pid"]}
            )
        else:
            click.echo(f"reloaded {name} {answer['version']} in the watcher (pid {status['pid']})")
        return
    manager = ExtensionManager(config, settings=cli.settings())
    manager.load_all()
    record = manager.records.get(name)
    loads = record is not None and record.active
    manager.stop()
    if record is None:
        fail(f"no extension named {name!r}")
    if not loads:
        fail(f"{name} does not load: {record.reason}")
    version = record.extension.version
    if cli.json:
        print_json({"name": name, "version": version, "reloaded": False, "pid": None})
    else:
        click.echo(f"{name} {version} loads (no `flx extension watch` runs: nothing to reload)")


@extension.command("watch")
@click.option(
    "--debounce", default=800, show_default=True, help="Milliseconds to group a burst of changes."
)
@json_option
@pass_cli
def watch(cli: CliContext, debounce: int) -> None:
    """Load the extensions and follow their folders (and extensions.toml) until Ctrl-C.

    Prints one line per load, reload, unload and failure (with --json, one JSON object per
    line), and keeps the status file that `flx extension info` and `flx extension list` read
    from other shells.
    """
    from flx_plugin import ExtensionManager

    config = _config(cli)
    settings = cli.settings()
    as_json = cli.json

    def say(line: str) -> None:
        if as_json:
            click.echo(json.dumps({"event": line}))
        else:
            click.echo(line)

    async def main(runtime: Runtime) -> None:
        # This process is built without the plugin context: the watcher's manager is the
        # only one that activates the extensions on it.
        manager = ExtensionManager(config, runtime.app, settings=settings, on_event=say)
        await manager.start()
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

    cli.run(main, exclude=("plugin",))


@extension.command("doctor")
@json_option
@pass_cli
def doctor(cli: CliContext) -> None:
    """The resolution report: load order, failures, conflicts, cycles; exit 1 on a failure."""
    from flx_plugin import ExtensionConfigError, resolution_report

    try:
        report = resolution_report(cli.settings())
    except ExtensionConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    if cli.json:
        print_json(report)
    else:
        _print_report(report)
    if not report["ok"]:
        raise SystemExit(1)


def _print_report(report: dict[str, Any]) -> None:
    click.echo(
        f"extensions in {report['watch_dir']} and entry points (FLX {report['flx_version']})"
    )
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
        print_table("Failed", ["extension", "reason"], sorted(report["failed"].items()))
    click.echo("ok" if report["ok"] else "problems found")
