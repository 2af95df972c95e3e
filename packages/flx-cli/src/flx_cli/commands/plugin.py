"""`flx plugin`: Singer connectors (add, install, list, show, set, unset, config, update,
remove)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import (
    Column,
    json_option,
    print_json,
    print_mapping,
    print_table,
    say,
    wide_option,
)
from flx_cli.parsing import parse_assignments

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime

PLUGIN_TYPES = ["extractor", "loader", "mapper", "utility"]


def _send(cli: CliContext, make: Any) -> Any:
    async def go(runtime: Runtime) -> Any:
        from flx_core.domain import Principal

        return unwrap(await runtime.app.execute(make(), principal=Principal.system()))

    return cli.run(go)


def connector_dict(plugin: Any, plugins_root: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = plugin.model_dump(mode="json")
    data["config"] = plugin.masked(plugin.config)
    data["kind"] = plugin.plugin_type.value
    data["source"] = (
        "pypi" if plugin.pip_url else ("builtin" if plugin.variant == "flx" else "path")
    )
    data["version"] = _pinned_version(plugin.pip_url)
    if plugins_root is not None:
        data["state"], data["reason"] = _connector_state(plugin, plugins_root)
    return data


def _pinned_version(pip_url: str | None) -> str | None:
    if pip_url and "==" in pip_url and " " not in pip_url.strip():
        return pip_url.split("==", 1)[1]
    return None


def _connector_state(plugin: Any, plugins_root: Any) -> tuple[str, str | None]:
    from pathlib import Path
    from shutil import which

    executable = plugin.executable or plugin.name
    if plugin.pip_url:
        venv = Path(plugins_root) / plugin.plugin_type.value / plugin.name / "venv"
        if (venv / "bin" / executable).exists():
            return "installed", None
        return "not_installed", f"run `flx plugin install {plugin.name}`"
    found = Path(executable).exists() if "/" in executable else which(executable) is not None
    return ("available", None) if found else ("missing", f"{executable} not found")


@click.group()
def plugin() -> None:
    """Plugins: the Singer connectors (taps, targets, mappers, utilities) FLX installs and runs."""


def _parse_settings(items: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        name, _, kind = item.partition(":")
        if not name:
            raise click.BadParameter(f"{item!r} is not NAME[:KIND]", param_hint="--setting")
        out.append({"name": name, "kind": kind or "string"})
    return out


@plugin.command("add")
@click.argument("plugin_type", type=click.Choice(PLUGIN_TYPES))
@click.argument("name")
@click.option("--pip-url", default=None, help="What pip installs, e.g. 'tap-jsonl==0.1.1'.")
@click.option("--executable", default=None, help="Command name or path (default: NAME).")
@click.option("--namespace", default="", help="Namespace of its settings (default: NAME).")
@click.option("--variant", default=None)
@click.option(
    "--config",
    "-c",
    "configs",
    multiple=True,
    help="SETTING=VALUE; VALUE takes the kind --setting declares (else stays text).",
)
@click.option(
    "--capabilities",
    default="",
    help="Comma-separated: catalog, properties, discover, cli, about...",
)
@click.option(
    "--setting",
    "settings",
    multiple=True,
    help="Declare a setting NAME[:KIND] (kind secret masks it everywhere).",
)
@json_option
@pass_cli
def add(
    cli: CliContext,
    plugin_type: str,
    name: str,
    pip_url: str | None,
    executable: str | None,
    namespace: str,
    variant: str | None,
    configs: tuple[str, ...],
    capabilities: str,
    settings: tuple[str, ...],
) -> None:
    """Record connector NAME of PLUGIN_TYPE (install it with `flx plugin install`)."""
    fields = {
        "plugin_type": plugin_type,
        "name": name,
        "pip_url": pip_url,
        "executable": executable,
        "namespace": namespace,
        "variant": variant,
        "config": parse_assignments(configs),
        "capabilities": [c.strip() for c in capabilities.split(",") if c.strip()],
        "settings": _parse_settings(settings),
    }

    def make() -> Any:
        from pydantic import ValidationError

        from flx_core.application import AddPlugin, describe_validation_error

        try:
            return AddPlugin(**fields)
        except ValidationError as exc:
            fail(describe_validation_error(exc))

    added = _send(cli, make)
    if cli.json:
        print_json(connector_dict(added))
    else:
        hint = f"; install it with `flx plugin install {name}`" if pip_url else ""
        say(f"added {plugin_type} {name}{hint}")


@plugin.command("install")
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Reinstall even when nothing changed.")
@json_option
@pass_cli
def install(cli: CliContext, names: tuple[str, ...], force: bool) -> None:
    """Install connectors into their own virtual environments (all when no NAME)."""
    from flx_meltano import InstallPlugins

    results = _send(cli, lambda: InstallPlugins(names=list(names), force=force))
    if cli.json:
        print_json(results)
    else:
        for r in results:
            line = f"{r['name']}: {r['status']}"
            if r.get("duration"):
                line += f" ({r['duration']:.1f}s)"
            click.echo(line)
            if r.get("error"):
                click.echo("  " + r["error"].replace("\n", "\n  "), err=True)
    if any(r["status"] == "failed" for r in results):
        raise SystemExit(1)


@plugin.command("list")
@click.option("--type", "plugin_type", type=click.Choice(PLUGIN_TYPES), default=None)
@json_option
@pass_cli
def list_plugins(cli: CliContext, plugin_type: str | None) -> None:
    """List connectors (extensions: `flx extension list`)."""
    from flx_core.application import ListPlugins

    plugins = _send(cli, lambda: ListPlugins(plugin_type=plugin_type))
    root = cli.settings().plugins_path
    rows = [connector_dict(p, root) for p in plugins]
    if cli.json:
        print_json(rows)
        return
    print_table(
        "Connectors",
        ["name", "type", "source", "state", "pip_url / executable"],
        [
            (r["name"], r["kind"], r["source"], r["state"], r["pip_url"] or r["executable"])
            for r in rows
        ],
    )


@plugin.command("show")
@click.argument("name")
@json_option
@pass_cli
def show(cli: CliContext, name: str) -> None:
    """Show connector NAME (secret settings masked)."""
    from flx_core.application import GetPlugin

    found = connector_dict(_send(cli, lambda: GetPlugin(name=name)), cli.settings().plugins_path)
    print_json(found) if cli.json else print_mapping(f"Plugin {name}", found)


@plugin.command("remove")
@click.argument("name")
@json_option
@pass_cli
def remove(cli: CliContext, name: str) -> None:
    """Forget connector NAME (refused while a pipeline uses it); its venv is deleted."""
    import shutil

    from flx_core.application import RemovePlugin

    removed = _send(cli, lambda: RemovePlugin(name=name))
    if not cli.remote:  # against a server, its venvs are the server's
        venv_parent = cli.settings().plugins_path / removed.plugin_type.value / name
        shutil.rmtree(venv_parent, ignore_errors=True)
    if cli.json:
        print_json({"removed": name, "type": removed.plugin_type.value})
    else:
        say(f"removed {removed.plugin_type.value} {name}")


def _execute(runtime: Runtime, message: Any) -> Any:
    from flx_core.domain import Principal

    return runtime.app.execute(message, principal=Principal.system())


def _read_value(setting: str) -> str:
    """VALUE ``-``: one line typed on a terminal, else all of stdin (a PEM key, say), less
    its final newline."""
    import sys

    if sys.stdin.isatty():
        click.echo(f"value of {setting} (then Enter): ", err=True, nl=False)
        raw = sys.stdin.readline()
    else:
        raw = sys.stdin.read()
    return raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith("\n") else raw


def _effective(rows: list[dict[str, Any]], setting: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["name"] == setting), None)


def _shown(value: Any) -> str:
    import json

    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@plugin.command("set")
@click.argument("name")
@click.argument("setting")
@click.argument("value")
@click.option(
    "--secret",
    is_flag=True,
    help="Declare SETTING secret: masked in every output, always a string.",
)
@json_option
@pass_cli
def set_setting(cli: CliContext, name: str, setting: str, value: str, secret: bool) -> None:
    """Set SETTING of connector NAME to VALUE (`-` reads VALUE from stdin).

    VALUE takes the kind the setting is declared with (`--setting port:integer` makes
    `5432` a number); the value of an undeclared setting stays the text given, unless it is
    a JSON object or array. Pipelines using NAME get it on their next run, unless they set
    their own value (`flx plugin config NAME --pipeline P` shows what wins).
    """
    from flx_core.application import SetPluginSetting
    from flx_meltano import GetPluginConfig

    given = _read_value(setting) if value == "-" else value

    async def go(runtime: Runtime) -> Any:
        changed = unwrap(
            await _execute(
                runtime, SetPluginSetting(name=name, setting=setting, value=given, secret=secret)
            )
        )
        rows = unwrap(await _execute(runtime, GetPluginConfig(name=name)))
        return changed, rows

    changed, rows = cli.run(go)
    if cli.json:
        print_json(connector_dict(changed))
        return
    shown = changed.masked({setting: changed.config.get(setting)})[setting]
    kind = "secret" if changed.is_secret(setting) else changed.setting_kind(setting)
    say(f"{name}: {setting} = {_shown(shown)}" + (f" ({kind})" if kind else ""))
    _note_override(_effective(rows, setting))


def _note_override(row: dict[str, Any] | None) -> None:
    if row is not None and row["source"] == "environment":
        click.echo(
            f"note: {row['env']} in this environment overrides it (value {_shown(row['value'])})",
            err=True,
        )


@plugin.command("unset")
@click.argument("name")
@click.argument("setting")
@json_option
@pass_cli
def unset_setting(cli: CliContext, name: str, setting: str) -> None:
    """Remove the value of SETTING set on connector NAME (its default applies again)."""
    from flx_core.application import UnsetPluginSetting
    from flx_meltano import GetPluginConfig

    async def go(runtime: Runtime) -> Any:
        changed = unwrap(await _execute(runtime, UnsetPluginSetting(name=name, setting=setting)))
        rows = unwrap(await _execute(runtime, GetPluginConfig(name=name)))
        return changed, rows

    changed, rows = cli.run(go)
    if cli.json:
        print_json(connector_dict(changed))
        return
    row = _effective(rows, setting)
    if row is None or row["source"] is None:
        say(f"{name}: {setting} unset (no value)")
    else:
        say(f"{name}: {setting} unset; now {_shown(row['value'])} (from {row['source']})")
    _note_override(row)


@plugin.command("config")
@click.argument("name")
@click.option("--pipeline", "-p", default=None, help="As runs of this pipeline get them.")
@wide_option
@json_option
@pass_cli
def config(cli: CliContext, name: str, pipeline: str | None, wide: bool) -> None:
    """The effective settings of connector NAME and where each value comes from.

    Lowest precedence first: default (declared by the plugin), plugin (`flx plugin set`),
    pipeline (its --config), environment (TAP_X_SETTING). Secrets are masked.
    """
    from flx_meltano import GetPluginConfig

    rows = _send(cli, lambda: GetPluginConfig(name=name, pipeline=pipeline))
    if cli.json:
        print_json(rows)
        return
    where = f" in pipeline {pipeline}" if pipeline else ""
    print_table(
        f"Settings of {name}{where}",
        [
            Column("setting", "fixed"),
            "value",
            Column("source", "fixed"),
            "environment variable",
            Column("kind", "fixed", wide=True),
            Column("description", wide=True),
        ],
        [
            (
                r["name"],
                _shown(r["value"]),
                r["source"] or "-",
                r["env"],
                ("secret" if r["secret"] else r["kind"] or "") + (", required" * r["required"]),
                r["description"],
            )
            for r in rows
        ],
        wide=wide,
    )


@plugin.command("update")
@click.argument("name")
@click.option("--pip-url", default=None, help="What pip installs ('' to run it from PATH).")
@click.option("--executable", default=None, help="Command name or path.")
@click.option("--capabilities", default=None, help="Comma-separated, replaces the list.")
@click.option(
    "--setting",
    "settings",
    multiple=True,
    help="Declare (or re-declare) a setting NAME[:KIND]; its value takes the kind.",
)
@click.option("--no-install", is_flag=True, help="Do not reinstall when the pip_url changes.")
@json_option
@pass_cli
def update(
    cli: CliContext,
    name: str,
    pip_url: str | None,
    executable: str | None,
    capabilities: str | None,
    settings: tuple[str, ...],
    no_install: bool,
) -> None:
    """Change connector NAME (allowed while pipelines use it).

    An installed connector whose pip_url changes is reinstalled (`--no-install` leaves it
    for `flx plugin install`).
    """
    import shutil

    from flx_core.application import GetPlugin, UpdatePlugin
    from flx_meltano import InstallPlugins

    changes: dict[str, Any] = {}
    if pip_url is not None:
        changes["pip_url"] = pip_url.strip() or None
    if executable is not None:
        changes["executable"] = executable.strip() or None
    if capabilities is not None:
        changes["capabilities"] = [c.strip() for c in capabilities.split(",") if c.strip()]
    if not changes and not settings:
        fail("nothing to update: give --pip-url, --executable, --capabilities or --setting", 2)
    root = cli.settings().plugins_path

    async def go(runtime: Runtime) -> Any:
        before = unwrap(await _execute(runtime, GetPlugin(name=name)))
        if settings:
            declared = {s.name: s.model_dump() for s in before.settings}
            for item in _parse_settings(settings):
                declared[item["name"]] = {**declared.get(item["name"], {}), **item}
            changes["settings"] = list(declared.values())
        after = unwrap(await _execute(runtime, UpdatePlugin(name=name, changes=changes)))
        installed = None
        if before.pip_url != after.pip_url:
            was_installed = _connector_state(before, root)[0] == "installed"
            if after.pip_url is None:
                if not cli.remote:  # against a server, its venvs are the server's
                    shutil.rmtree(root / before.plugin_type.value / name, ignore_errors=True)
            elif was_installed and not no_install:
                installed = unwrap(await _execute(runtime, InstallPlugins(names=[name])))[0]
        return before, after, installed

    before, after, installed = cli.run(go)
    changed = [
        k
        for k in ("pip_url", "executable", "capabilities", "settings", "config")
        if getattr(before, k) != getattr(after, k)
    ]
    if cli.json:
        print_json({**connector_dict(after, root), "changed": changed, "install": installed})
    elif not changed:
        say(f"{name}: nothing changed")
    else:
        say(f"updated {after.plugin_type.value} {name}: {', '.join(changed)}")
        if installed is not None:
            say(f"{name}: {installed['status']}")
            if installed.get("error"):
                click.echo("  " + installed["error"].replace("\n", "\n  "), err=True)
        elif after.pip_url and before.pip_url != after.pip_url:
            say(f"install it with `flx plugin install {name}`")
    if installed is not None and installed["status"] == "failed":
        raise SystemExit(1)


from flx_cli.commands.plugin_streams import register as _register_streams  # noqa: E402

_register_streams(plugin)
