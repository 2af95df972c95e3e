"""`flx pipeline`: create, list, show, update, delete, enable and disable pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flx_cli.commands import pipeline_builder
from flx_cli.commands.pipeline_extras import extras_fields, extras_options, file_paths
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
from flx_cli.parsing import load_pipeline_file, plugin_config, stream_metadata

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


def pipeline_dict(p: Any, declared: dict[str, frozenset[str]]) -> dict[str, Any]:
    """The pipeline for output; ``declared`` names the settings each plugin declares secret
    (masked as well as those named like secrets)."""
    data: dict[str, Any] = p.model_dump(mode="json")
    data["config"] = p.masked_config(declared)
    data["schedule"] = p.schedule.value if p.schedule else None
    return data


def _run(cli: CliContext, go: Any) -> tuple[Any, dict[str, frozenset[str]]]:
    """``cli.run(go)``, and the secret settings the plugins declare (for masking)."""

    async def both(runtime: Runtime) -> tuple[Any, dict[str, frozenset[str]]]:
        from flx_core.application import ListPlugins

        value = await go(runtime)
        plugins = unwrap(await _execute(runtime, ListPlugins()))
        return value, {p.name: p.secret_names for p in plugins}

    result: tuple[Any, dict[str, frozenset[str]]] = cli.run(both)
    return result


async def _execute(runtime: Runtime, message: Any) -> Any:
    from flx_core.domain import Principal

    return await runtime.app.execute(message, principal=Principal.system())


@click.group()
def pipeline() -> None:
    """Create, list, show, update and delete pipelines."""


def run_policy_options(fn: Any) -> Any:
    """Options of how a pipeline's runs go: retries, conflicts, queue, schedule's timezone."""
    options = [
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            default=None,
            help="Try a failed run again up to N times (each attempt an execution).",
        ),
        click.option(
            "--retry-delay",
            type=click.FloatRange(0, 3600),
            default=None,
            metavar="SECONDS",
            help="Wait before the first retry; doubled for each further one, with jitter.",
        ),
        click.option(
            "--on-conflict",
            type=click.Choice(["reject", "queue"]),
            default=None,
            help="A run requested while one is active: refused (default) or queued behind it.",
        ),
        click.option(
            "--queue",
            default=None,
            help="Worker queue of its runs (FLX_EXECUTOR=celery; '' for the default).",
        ),
        click.option(
            "--timezone", default=None, help="Timezone of its schedule (IANA name; default UTC)."
        ),
        click.option(
            "--catchup",
            type=click.Choice(["skip", "all"]),
            default=None,
            help="After scheduler downtime: fire once for what was missed (skip) or every time.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def run_policy(**given: Any) -> dict[str, Any]:
    """The run policy fields given on the command line ('' for --queue clears it)."""
    fields = {k: v for k, v in given.items() if v is not None}
    if fields.get("queue") == "":
        fields["queue"] = None
    return fields


@pipeline.command("create")
@click.argument("name", required=False)
@click.option("--extractor", "-e", help="Extractor (tap) plugin name.")
@click.option("--loader", "-l", help="Loader (target) plugin name.")
@click.option("--mapper", "-m", "mappers", multiple=True, help="Mapper plugin, in order.")
@click.option(
    "--config",
    "-c",
    "configs",
    multiple=True,
    help="PLUGIN.SETTING=VALUE (PLUGIN may be 'extractor' or 'loader').",
)
@click.option("--select", "-s", "selects", multiple=True, help="Select rule, e.g. users.*")
@click.option(
    "--metadata",
    "metadatas",
    multiple=True,
    help="Catalog metadata STREAM.KEY=VALUE, e.g. orders.replication-key=id",
)
@click.option("--schedule", help="Cron expression, e.g. '0 * * * *'.")
@click.option("--description", "-d", default=None)
@click.option("--tag", "tags", multiple=True)
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option(
    "-f",
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML file with the pipeline fields (options override it).",
)
@extras_options(clearing=False)
@run_policy_options
@json_option
@pass_cli
def create(
    cli: CliContext,
    name: str | None,
    extractor: str | None,
    loader: str | None,
    mappers: tuple[str, ...],
    configs: tuple[str, ...],
    selects: tuple[str, ...],
    metadatas: tuple[str, ...],
    schedule: str | None,
    description: str | None,
    tags: tuple[str, ...],
    disabled: bool,
    file: Path | None,
    schemas: tuple[str, ...],
    catalog_path: str | None,
    state_path: str | None,
    load_schema: str | None,
    select_filters: tuple[str, ...],
    **policy: Any,
) -> None:
    """Create pipeline NAME: extractor -> mappers -> loader.

    With no argument at all on a terminal, an interactive builder asks for each part.
    --schema, --catalog, --state-file, --load-schema and --select-filter are Meltano's
    extractor extras of the same names.
    """
    if pipeline_builder.wanted(click.get_current_context(), cli):
        return pipeline_builder.build(cli)
    fields: dict[str, Any] = file_paths(load_pipeline_file(file), file) if file else {}
    overrides = {
        "name": name,
        "extractor": extractor,
        "loader": loader,
        "mappers": list(mappers) or None,
        "select": list(selects) or None,
        "metadata": stream_metadata(metadatas) or None,
        "schedule": schedule,
        "description": description,
        "tags": list(tags) or None,
    }
    fields.update({k: v for k, v in overrides.items() if v is not None})
    fields.update(extras_fields(schemas, catalog_path, state_path, load_schema, select_filters))
    fields.update(run_policy(**policy))
    if disabled:
        fields["enabled"] = False
    for required in ("name", "extractor", "loader"):
        if not fields.get(required):
            hint = "NAME" if required == "name" else f"--{required}"
            fail(f"missing {required}: give it as {hint} or in the -f file", 2)
    roles = {"extractor": fields["extractor"], "loader": fields["loader"]}
    if configs:
        extra = plugin_config(configs, roles)
        merged = dict(fields.get("config") or {})
        for plugin, values in extra.items():
            merged[plugin] = {**merged.get(plugin, {}), **values}
        fields["config"] = merged

    async def go(runtime: Runtime) -> Any:
        from pydantic import ValidationError

        from flx_core.application import (
            CreatePipeline,
            TypedPipelineConfig,
            describe_validation_error,
        )

        try:
            cmd = CreatePipeline(**fields)
        except ValidationError as exc:
            fail(describe_validation_error(exc))
        if cmd.config:  # each value takes the kind its plugin declares
            typed = TypedPipelineConfig(config=cmd.config, pipeline=cmd.name)
            cmd = cmd.model_copy(update={"config": unwrap(await _execute(runtime, typed))})
        return unwrap(await _execute(runtime, cmd))

    created, declared = _run(cli, go)
    if cli.json:
        print_json(pipeline_dict(created, declared))
    else:
        say(f"created pipeline {created.name}: {' -> '.join(created.plugin_names)}")


@pipeline.command("list")
@click.option("--extractor", default=None)
@click.option("--loader", default=None)
@click.option("--tag", default=None)
@click.option("--enabled/--disabled", "enabled", default=None)
@click.option("--name-contains", default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=100)
@click.option("--cursor", default=None, help="Cursor of the next page, from a previous listing.")
@wide_option
@json_option
@pass_cli
def list_pipelines(
    cli: CliContext,
    extractor: str | None,
    loader: str | None,
    tag: str | None,
    enabled: bool | None,
    name_contains: str | None,
    limit: int,
    cursor: str | None,
    wide: bool,
) -> None:
    """List pipelines."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import ListPipelines
        from flx_core.domain.ports import PipelineFilter

        flt = PipelineFilter(
            extractor=extractor,
            loader=loader,
            tag=tag,
            enabled=enabled,
            name_contains=name_contains,
        )
        return unwrap(
            await _execute(runtime, ListPipelines(filter=flt, limit=limit, cursor=cursor))
        )

    page, declared = _run(cli, go)
    if cli.json:
        items = [pipeline_dict(p, declared) for p in page.items]
        print_json({"items": items, "next_cursor": page.next_cursor})
        return
    rows = [
        (
            p.id,
            p.name,
            " -> ".join(p.plugin_names),
            p.schedule.value if p.schedule else "",
            "yes" if p.enabled else "no",
            ",".join(p.tags),
            p.version,
            p.updated_at,
        )
        for p in page.items
    ]
    columns: list[str | Column] = [
        Column("id", "id", wide=True),
        Column("name", "fixed"),
        "flow",
        "schedule",
        Column("enabled", "fixed"),
        "tags",
        Column("version", "fixed"),
        Column("updated", "time", wide=True),
    ]
    print_table("Pipelines", columns, rows, wide=wide)
    if page.next_cursor:
        say(f"more: flx pipeline list --cursor {page.next_cursor}")


@pipeline.command("show")
@click.argument("name")
@json_option
@pass_cli
def show(cli: CliContext, name: str) -> None:
    """Show one pipeline."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import GetPipeline

        return unwrap(await _execute(runtime, GetPipeline(pipeline=name)))

    found, declared = _run(cli, go)
    data = pipeline_dict(found, declared)
    if cli.json:
        print_json(data)
    else:
        print_mapping(f"Pipeline {found.name}", data)


def _update(
    cli: CliContext, name: str, changes: dict[str, Any], expected_version: int | None
) -> tuple[Any, dict[str, frozenset[str]]]:
    async def go(runtime: Runtime) -> Any:
        from flx_core.application import UpdatePipeline

        return unwrap(
            await _execute(
                runtime,
                UpdatePipeline(pipeline=name, changes=changes, expected_version=expected_version),
            )
        )

    return _run(cli, go)


@pipeline.command("update")
@click.argument("name")
@click.option("--extractor", "-e", default=None)
@click.option("--loader", "-l", default=None)
@click.option("--mapper", "-m", "mappers", multiple=True)
@click.option("--no-mappers", is_flag=True, help="Remove every mapper.")
@click.option("--config", "-c", "configs", multiple=True, help="PLUGIN.SETTING=VALUE to set.")
@click.option("--select", "-s", "selects", multiple=True, help="Replace the select rules.")
@click.option(
    "--metadata", "metadatas", multiple=True, help="Replace the catalog metadata: STREAM.KEY=VALUE."
)
@click.option("--schedule", default=None, help="Cron expression ('' removes it).")
@click.option("--description", "-d", default=None)
@click.option("--tag", "tags", multiple=True, help="Replace the tags.")
@click.option(
    "--if-version",
    "expected_version",
    type=int,
    default=None,
    help="Refuse the update if the pipeline is no longer at this version.",
)
@extras_options(clearing=True)
@run_policy_options
@json_option
@pass_cli
def update(
    cli: CliContext,
    name: str,
    extractor: str | None,
    loader: str | None,
    mappers: tuple[str, ...],
    no_mappers: bool,
    configs: tuple[str, ...],
    selects: tuple[str, ...],
    metadatas: tuple[str, ...],
    schedule: str | None,
    description: str | None,
    tags: tuple[str, ...],
    expected_version: int | None,
    schemas: tuple[str, ...],
    catalog_path: str | None,
    state_path: str | None,
    load_schema: str | None,
    select_filters: tuple[str, ...],
    no_schema: bool,
    no_select_filter: bool,
    **policy: Any,
) -> None:
    """Change fields of pipeline NAME."""
    changes: dict[str, Any] = run_policy(**policy)
    changes |= extras_fields(
        schemas,
        catalog_path,
        state_path,
        load_schema,
        select_filters,
        no_schema=no_schema,
        no_select_filter=no_select_filter,
    )
    for key, value in (
        ("extractor", extractor),
        ("loader", loader),
        ("description", description),
        ("schedule", schedule),
    ):
        if value is not None:
            changes[key] = value
    if mappers or no_mappers:
        changes["mappers"] = list(mappers)
    if selects:
        changes["select"] = list(selects)
    if metadatas:
        changes["metadata"] = stream_metadata(metadatas)
    if tags:
        changes["tags"] = list(tags)
    if configs:
        changes["config_patch"] = configs
    if not changes:
        fail("nothing to update: give at least one option (see --help)", 2)
    if "config_patch" in changes:
        changes.pop("config_patch")

        async def current(runtime: Runtime) -> Any:
            from flx_core.application import GetPipeline, TypedPipelineConfig

            existing = unwrap(await _execute(runtime, GetPipeline(pipeline=name)))
            roles = {"extractor": existing.extractor, "loader": existing.loader}
            given = TypedPipelineConfig(config=plugin_config(configs, roles), pipeline=name)
            return existing, unwrap(await _execute(runtime, given))

        existing, typed = cli.run(current)
        merged = {k: dict(v) for k, v in existing.config.items()}
        for plugin, values in typed.items():
            merged.setdefault(plugin, {}).update(values)
        changes["config"] = merged
        if expected_version is None:
            expected_version = existing.version
    updated, declared = _update(cli, name, changes, expected_version)
    if cli.json:
        print_json(pipeline_dict(updated, declared))
    else:
        say(f"updated pipeline {updated.name} (version {updated.version})")


@pipeline.command("enable")
@click.argument("name")
@json_option
@pass_cli
def enable(cli: CliContext, name: str) -> None:
    """Enable pipeline NAME (its schedule fires again)."""
    updated, declared = _update(cli, name, {"enabled": True}, None)
    print_json(pipeline_dict(updated, declared)) if cli.json else say(f"enabled pipeline {name}")


@pipeline.command("disable")
@click.argument("name")
@json_option
@pass_cli
def disable(cli: CliContext, name: str) -> None:
    """Disable pipeline NAME (no scheduled runs)."""
    updated, declared = _update(cli, name, {"enabled": False}, None)
    print_json(pipeline_dict(updated, declared)) if cli.json else say(f"disabled pipeline {name}")


@pipeline.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_cli
def delete(cli: CliContext, name: str, yes: bool) -> None:
    """Delete pipeline NAME (its executions and state are kept)."""
    if not yes and not cli.json and click.get_text_stream("stdin").isatty():
        click.confirm(f"Delete pipeline {name}?", abort=True)

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import DeletePipeline

        return unwrap(await _execute(runtime, DeletePipeline(pipeline=name)))

    deleted = cli.run(go)
    print_json({"deleted": deleted.name}) if cli.json else say(f"deleted pipeline {name}")
