"""`flx plugin`: Singer connectors (add, install, list, show, remove) and extension plugins."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import print_json, print_mapping, print_table, say
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
    """Connectors (Singer taps, targets, mappers) and extension plugins."""


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
@click.option("--config", "-c", "configs", multiple=True, help="SETTING=VALUE default.")
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
@pass_cli
def list_plugins(cli: CliContext, plugin_type: str | None) -> None:
    """List connectors and extension plugins."""
    from flx_core.application import ListPlugins

    plugins = _send(cli, lambda: ListPlugins(plugin_type=plugin_type))
    root = cli.settings().plugins_path
    rows = [connector_dict(p, root) for p in plugins]
    extensions = _extension_rows(cli) if plugin_type is None else []
    if cli.json:
        print_json({"connectors": rows, "extensions": extensions})
        return
    print_table(
        "Connectors",
        ["name", "type", "source", "state", "pip_url / executable"],
        [
            (r["name"], r["kind"], r["source"], r["state"], r["pip_url"] or r["executable"])
            for r in rows
        ],
    )
    if extensions:
        print_table(
            "Extensions",
            ["name", "kind", "version", "source", "state", "reason"],
            [
                (
                    e.get("name"),
                    e.get("kind"),
                    e.get("version"),
                    e.get("source"),
                    e.get("state"),
                    e.get("reason") or "",
                )
                for e in extensions
            ],
        )


def _extension_rows(cli: CliContext) -> list[dict[str, Any]]:
    if importlib.util.find_spec("flx_plugin") is None:
        return []
    from flx_plugin import PluginConfigError, extension_rows

    try:
        return extension_rows(cli.settings())
    except PluginConfigError as exc:
        fail(str(exc))


@plugin.command("show")
@click.argument("name")
@pass_cli
def show(cli: CliContext, name: str) -> None:
    """Show connector NAME (secret settings masked)."""
    from flx_core.application import GetPlugin

    found = connector_dict(_send(cli, lambda: GetPlugin(name=name)), cli.settings().plugins_path)
    print_json(found) if cli.json else print_mapping(f"Plugin {name}", found)


@plugin.command("remove")
@click.argument("name")
@pass_cli
def remove(cli: CliContext, name: str) -> None:
    """Forget connector NAME (refused while a pipeline uses it); its venv is deleted."""
    import shutil

    from flx_core.application import RemovePlugin

    removed = _send(cli, lambda: RemovePlugin(name=name))
    venv_parent = cli.settings().plugins_path / removed.plugin_type.value / name
    shutil.rmtree(venv_parent, ignore_errors=True)
    say(f"removed {removed.plugin_type.value} {name}")


def _register_extensions() -> None:
    if importlib.util.find_spec("flx_cli.commands.plugin_ext") is None:
        return
    from flx_cli.commands.plugin_ext import register

    register(plugin)


_register_extensions()
