"""The root `flx` command: global flags and the registry of command groups.

Command groups live one per module under ``flx_cli.commands`` and are imported lazily.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import click

from flx_cli.context import CliContext, server_url
from flx_cli.lazy import LazyGroup

COMMANDS: dict[str, tuple[str, str]] = {
    "pipeline": (
        "flx_cli.commands.pipeline:pipeline",
        "Create, list, show, update and delete pipelines.",
    ),
    "config": ("flx_cli.commands.config:config", "Show the effective settings (secrets masked)."),
    "db": ("flx_cli.commands.db:db", "Database migrations: upgrade, current, downgrade."),
    "plugin": ("flx_cli.commands.plugin:plugin", "Singer connectors (taps, targets, mappers)."),
    "extension": (
        "flx_cli.commands.extension:extension",
        "Extensions of FLX: list, info, reload, watch, doctor.",
    ),
    "run": ("flx_cli.commands.run:run", "Run a pipeline now."),
    "execution": ("flx_cli.commands.execution:execution", "List, inspect, follow and cancel runs."),
    "import": (
        "flx_cli.commands.importer:importer",
        "Bring projects of other tools into FLX (Meltano).",
    ),
    "state": ("flx_cli.commands.state:state", "Incremental state: get, set, history, restore."),
    "schedule": ("flx_cli.commands.schedule:schedule", "Cron schedules: next times, last fires."),
    "scheduler": ("flx_cli.commands.scheduler:scheduler", "Fire schedules until stopped."),
    "demo": ("flx_cli.commands.demo:demo", "Set up and run the demo pipeline."),
    "user": ("flx_cli.commands.user:user", "Manage users and their roles."),
    "auth": ("flx_cli.commands.auth:auth", "Log in, verify tokens, sessions and keys."),
    "secrets": ("flx_cli.commands.secrets:secrets", "Keys that encrypt secret settings at rest."),
    "daemon": ("flx_cli.commands.daemon:daemon", "The warm process that speeds up `flx run`."),
    "worker": ("flx_cli.commands.worker:worker", "Run queued runs from the broker (Celery)."),
    "serve": ("flx_cli.commands.serve:serve", "Serve the REST API, the scheduler and the runs."),
    "doctor": ("flx_cli.commands.doctor:doctor", "Check the installation's health, with remedies."),
}


def _version() -> str:
    try:
        return version("flx-cli")
    except PackageNotFoundError:
        return "unknown"


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="flx")
@click.option("--debug", is_flag=True, help="Debug logs and full tracebacks on errors.")
@click.option("--verbose", "-v", is_flag=True, help="Informational logs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON output.")
@click.option(
    "--server",
    metavar="URL",
    envvar="FLX_SERVER",
    default=None,
    help="Work against the FLX server at URL (pipelines, plugins, runs, executions, state, "
    "schedules, users; log in with `flx auth login`). Default: $FLX_SERVER, else this "
    "machine's FLX_HOME.",
)
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: bool, as_json: bool, server: str | None) -> None:
    """FLX: run and manage Singer pipelines (extract, map, load) for a team."""
    ctx.obj = CliContext(
        debug=debug,
        verbose=verbose,
        json=as_json,
        server=server_url(server),
        command=ctx.invoked_subcommand,
    )


def available_commands() -> dict[str, tuple[str, str]]:
    """Registered groups whose module exists (helps tests and --help stay honest)."""
    import importlib.util

    return {
        name: spec
        for name, spec in COMMANDS.items()
        if importlib.util.find_spec(spec[0].split(":")[0]) is not None
    }


cli.lazy = available_commands()  # type: ignore[attr-defined]


def _plugin_command(ctx: click.Context, name: str) -> click.Command | None:
    """A command an active extension adds (e.g. `flx webhook`)."""
    from flx_cli.context import cli_context
    from flx_plugin import cli_commands

    for command in cli_commands(cli_context(ctx).settings()):
        if command.name == name:
            return command
    return None


cli.plugin_commands = _plugin_command  # type: ignore[attr-defined]
