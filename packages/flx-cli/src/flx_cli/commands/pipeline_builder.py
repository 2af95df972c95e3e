"""The interactive pipeline builder: `flx pipeline create` with no arguments on a terminal.

It asks for the name; the extractor (one already added, FLX's built-in ones included, or a
new one: name and pip_url or executable); the loader (the same); the extractor's required
settings that have no value yet (discovery needs them); the streams to select, from the
tap's discovered catalog, as a checklist; the loader's missing settings; mappers (optional);
a schedule (optional cron). It then shows the pipeline and creates it once confirmed.

Prompts are questionary's (prompt_toolkit, drawn inline: no full-screen terminal needed);
secrets are read hidden. Everything is done through the application's commands and queries,
in one process built for the whole conversation.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail

if TYPE_CHECKING:
    from flx_core.application import Application
    from flx_core.bootstrap import Runtime
    from flx_core.domain import Pipeline, Plugin, PluginSetting, PluginType

#: Capabilities under which a tap takes a catalog, so that select rules apply.
CATALOG_CAPABILITIES = frozenset({"catalog", "properties"})
EXTRACTOR_CAPABILITIES = ("catalog", "properties", "discover", "state", "about")


def wanted(ctx: click.Context, cli: CliContext) -> bool:
    """Whether `flx pipeline create` was typed with no argument at all on a terminal."""
    given = any(value not in (None, False, ()) for value in ctx.params.values())
    return not given and not cli.json and sys.stdin.isatty() and sys.stdout.isatty()


def build(cli: CliContext) -> None:
    """Run the builder and create the pipeline it describes."""

    async def go(runtime: Runtime) -> Any:
        return await Builder(runtime.app).run()

    created = cli.run(go)
    flow = " -> ".join(created.plugin_names)
    click.echo(f"created pipeline {created.name}: {flow}")
    click.echo(f"run it with `flx run {created.name}`")


def stream_rule(stream: str) -> str:
    """The select rule taking all of ``stream``. Stream ids are matched whole as globs, so
    glob characters are escaped and a dot (which would start a property) becomes ``?``."""
    escaped = "".join(f"[{c}]" if c in "*?[" else "?" if c == "." else c for c in stream)
    return f"{escaped}.*"


def missing_settings(plugin: Plugin, pipeline: Pipeline) -> list[PluginSetting]:
    """The settings ``plugin`` requires that have no value in ``pipeline`` yet (from the
    plugin, the pipeline or the environment, as a run resolves them)."""
    from flx_meltano.plugin_settings import resolve_config

    lenient = plugin.model_copy(
        update={"settings": [s.model_copy(update={"required": False}) for s in plugin.settings]}
    )
    config = resolve_config(lenient, pipeline, os.environ)
    return [s for s in plugin.settings if s.required and config.get(s.name) in (None, "")]


def parse_setting(setting: PluginSetting, raw: str) -> Any:
    """The value typed for ``setting``, as its kind wants it; ValueError if it is not one."""
    kind = setting.kind.value
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if kind in ("array", "object"):
        value = json.loads(raw)
        if not isinstance(value, list if kind == "array" else dict):
            raise ValueError(f"not a JSON {kind}")
        return value
    return raw


class Builder:
    def __init__(self, app: Application) -> None:
        from flx_core.domain import Principal

        self.app = app
        self.principal = Principal.system()
        self.plugins: list[Plugin] = []
        self.config: dict[str, dict[str, Any]] = {}

    # -- the application -------------------------------------------------------------------
    async def send(self, message: Any) -> Any:
        result = await self.app.execute(message, principal=self.principal)
        if not result.ok:
            fail(result.message or result.error_code or "failed")
        return result.value

    async def reload_plugins(self) -> None:
        from flx_core.application import ListPlugins

        self.plugins = list(await self.send(ListPlugins()))

    async def pipeline_names(self) -> set[str]:
        from flx_core.application import ListPipelines

        names: set[str] = set()
        cursor = None
        while True:
            page = await self.send(ListPipelines(limit=500, cursor=cursor))
            names |= {p.name for p in page.items}
            cursor = page.next_cursor
            if not cursor:
                return names

    # -- the conversation ------------------------------------------------------------------
    async def run(self) -> Pipeline:
        from flx_core.application import CreatePipeline
        from flx_core.domain import PluginType

        await self.reload_plugins()
        taken = await self.pipeline_names()
        click.echo("New pipeline (Ctrl-C leaves without creating anything).")
        name = await ask(
            "text", "Pipeline name:", validate=lambda v: _name_problem(v, taken, "pipeline")
        )
        extractor = await self.choose_plugin(PluginType.EXTRACTOR)
        loader = await self.choose_plugin(PluginType.LOADER)
        await self.ask_missing(extractor, name, extractor.name, loader.name)
        select = await self.choose_streams(extractor)
        await self.ask_missing(loader, name, extractor.name, loader.name)
        mappers = await self.choose_mappers(name, extractor.name, loader.name)
        schedule = await ask(
            "text",
            "Schedule (cron, e.g. '0 * * * *'; empty for none):",
            validate=_cron_problem,
        )
        fields: dict[str, Any] = {
            "name": name,
            "extractor": extractor.name,
            "loader": loader.name,
            "mappers": [m.name for m in mappers],
            "select": select,
            "config": {k: v for k, v in self.config.items() if v},
            "schedule": schedule.strip() or None,
        }
        self.show(fields)
        if not await ask("confirm", f"Create pipeline {name}?", default=True):
            raise click.Abort
        created: Pipeline = await self.send(CreatePipeline(**fields))
        return created

    async def choose_plugin(self, kind: PluginType) -> Plugin:
        from questionary import Choice

        role = kind.value
        added = [p for p in self.plugins if p.plugin_type is kind]
        choices = [Choice(_plugin_title(p), value=p.name) for p in added]
        choices.append(Choice(f"add a new {role}", value=""))
        picked = await ask("select", f"{role.capitalize()}:", choices=choices)
        if not picked:
            return await self.add_plugin(kind)
        return next(p for p in added if p.name == picked)

    async def add_plugin(self, kind: PluginType) -> Plugin:
        from questionary import Choice

        from flx_core.application import AddPlugin
        from flx_meltano import InstallPlugins

        role = kind.value
        known = {p.name for p in self.plugins}
        name = await ask(
            "text",
            f"Name of the {role} (e.g. {_example(role)}):",
            validate=lambda v: _name_problem(v, known, "plugin"),
        )
        source = await ask(
            "select",
            f"Where does {name} come from?",
            choices=[
                Choice("a package pip installs (pip_url)", value="pip_url"),
                Choice("an executable (a command on PATH, or a path)", value="executable"),
            ],
        )
        fields: dict[str, Any] = {"plugin_type": role, "name": name}
        if source == "pip_url":
            fields["pip_url"] = await ask("text", "pip_url:", default=name, validate=_required)
        else:
            fields["executable"] = await ask(
                "text", "Executable:", default=name, validate=_required
            )
        if kind.value == "extractor":
            fields["capabilities"] = await ask(
                "checkbox",
                "Capabilities of the tap (its --about or docs tell):",
                choices=[
                    Choice(c, checked=c in ("catalog", "discover", "state"))
                    for c in EXTRACTOR_CAPABILITIES
                ],
            )
        plugin = await self.send(AddPlugin(**fields))
        click.echo(f"added {role} {name}")
        if plugin.pip_url and await ask("confirm", f"Install {name} now?", default=True):
            click.echo(f"installing {name}...")
            for outcome in await self.send(InstallPlugins(names=[name])):
                click.echo(f"{outcome['name']}: {outcome['status']}")
                if outcome.get("error"):
                    click.echo("  " + outcome["error"].replace("\n", "\n  "), err=True)
        await self.reload_plugins()
        return plugin  # type: ignore[no-any-return]

    async def ask_missing(self, plugin: Plugin, name: str, extractor: str, loader: str) -> None:
        """Ask for the required settings of ``plugin`` that have no value yet."""
        from flx_core.domain import DomainError, Pipeline

        draft = Pipeline(name=name, extractor=extractor, loader=loader, config=self.config)
        try:
            missing = missing_settings(plugin, draft)
        except DomainError as exc:
            fail(exc.message)
        for setting in missing:
            value = await self.ask_setting(plugin, setting)
            self.config.setdefault(plugin.name, {})[setting.name] = value

    async def ask_setting(self, plugin: Plugin, setting: PluginSetting) -> Any:
        label = f"{plugin.name} setting {setting.name}"
        if setting.description:
            label += f" ({setting.description})"
        if setting.kind.value == "boolean":
            return await ask("confirm", f"{label}?", default=False)

        def check(raw: str) -> bool | str:
            if not raw.strip():
                return "a value is required"
            try:
                parse_setting(setting, raw)
            except ValueError:
                return f"not a valid {setting.kind.value}"
            return True

        if plugin.is_secret(setting.name):
            raw = await ask("password", f"{label} (hidden):", validate=check)
        else:
            raw = await ask("text", f"{label}:", validate=check)
        return parse_setting(setting, raw)

    async def choose_streams(self, extractor: Plugin) -> list[str]:
        """Select rules from the streams checked in the tap's catalog ([] takes them all)."""
        from questionary import Choice

        from flx_meltano import ListStreams

        caps = {c.strip().lower() for c in extractor.capabilities}
        if not caps & CATALOG_CAPABILITIES:
            click.echo(
                f"{extractor.name} takes no catalog (neither the catalog nor the properties "
                "capability): it extracts the streams it extracts by default."
            )
            return []
        click.echo(f"discovering the streams of {extractor.name}...")
        query = ListStreams(plugin=extractor.name, config=self.config.get(extractor.name, {}))
        result = await self.app.execute(query, principal=self.principal)
        if not result.ok:
            click.echo(f"error: {result.message}", err=True)
            if await ask(
                "confirm", "Go on without choosing streams (the run takes them all)?", default=True
            ):
                return []
            raise click.Abort
        streams = result.value.streams if result.value is not None else []
        if not streams:
            click.echo(f"{extractor.name} offers no stream.")
            return []
        chosen = await ask(
            "checkbox",
            "Streams to extract:",
            choices=[Choice(_stream_title(s), value=s.stream) for s in streams],
            validate=lambda picked: bool(picked) or "choose at least one stream",
        )
        return [stream_rule(s) for s in chosen]

    async def choose_mappers(self, name: str, extractor: str, loader: str) -> list[Plugin]:
        from flx_core.domain import PluginType

        mappers: list[Plugin] = []
        question = "Add a mapper between them?"
        while await ask("confirm", question, default=False):
            mapper = await self.choose_plugin(PluginType.MAPPER)
            await self.ask_missing(mapper, name, extractor, loader)
            mappers.append(mapper)
            question = "Add another mapper?"
        return mappers

    def show(self, fields: dict[str, Any]) -> None:
        from flx_cli.output import print_mapping

        by_name = {p.name: p for p in self.plugins}
        shown = {
            "name": fields["name"],
            "flow": " -> ".join([fields["extractor"], *fields["mappers"], fields["loader"]]),
            "select": fields["select"] or "every stream",
            "config": {
                plugin: by_name[plugin].masked(values) if plugin in by_name else values
                for plugin, values in fields["config"].items()
            },
            "schedule": fields["schedule"],
        }
        print_mapping(f"Pipeline {fields['name']}", shown)


async def ask(kind: str, message: str, **options: Any) -> Any:
    """One questionary prompt of ``kind`` on this process's terminal. Ctrl-C (or Ctrl-D)
    leaves the builder: nothing is created."""
    import questionary

    question = getattr(questionary, kind)(message, **options)
    try:
        answer = await question.unsafe_ask_async()
    except (KeyboardInterrupt, EOFError):
        raise click.Abort from None
    if answer is None:
        raise click.Abort
    return answer


def _name_problem(value: str, taken: set[str], what: str) -> bool | str:
    from flx_core.domain.value_objects import validate_name

    try:
        validate_name(value.strip(), f"{what} name")
    except ValueError as exc:
        return str(exc)
    if value.strip() in taken:
        return f"a {what} named {value.strip()!r} already exists"
    return True


def _cron_problem(value: str) -> bool | str:
    from pydantic import ValidationError

    from flx_core.domain import CronExpression

    if not value.strip():
        return True
    try:
        CronExpression(value=value.strip())
    except ValidationError as exc:
        return str(exc.errors()[0].get("msg", "invalid cron expression")).removeprefix(
            "Value error, "
        )
    return True


def _required(value: str) -> bool | str:
    return True if value.strip() else "a value is required"


def _example(role: str) -> str:
    return {"extractor": "tap-postgres", "loader": "target-jsonl"}.get(
        role, "meltano-map-transformer"
    )


def _plugin_title(plugin: Plugin) -> str:
    if plugin.variant == "flx":
        return f"{plugin.name} (built into FLX)"
    return f"{plugin.name} ({plugin.pip_url or plugin.executable or plugin.name})"


def _stream_title(stream: Any) -> str:
    detail = f"{len(stream.properties)} properties"
    if stream.replication_method:
        detail += f", {stream.replication_method}"
        if stream.replication_key:
            detail += f" by {stream.replication_key}"
    return f"{stream.stream} ({detail})"
