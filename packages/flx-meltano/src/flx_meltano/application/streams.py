"""What a tap offers and what a pipeline takes of it: the streams listing, and the check that
refuses select rules and metadata keys naming nothing in the tap's cached catalog."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flx_core.application import (
    Command,
    CreatePipeline,
    HandlerContext,
    Query,
    UpdatePipeline,
    load_pipeline,
)
from flx_core.config import FlxSettings
from flx_core.domain import (
    Capability,
    DomainError,
    NotFound,
    Permission,
    Pipeline,
    Plugin,
    PluginType,
    ServiceResult,
    ValidationFailed,
)
from flx_meltano.application.module import handlers
from flx_meltano.catalog import (
    CatalogError,
    DiscoveryError,
    SchemaOverrideError,
    SelectPatternError,
    StreamSelection,
    apply_schema,
    catalog_cache_file,
    discover,
    list_selection,
    read_catalog_file,
    run_catalog,
    unmatched_rules,
)
from flx_meltano.catalog.cache import read_cache
from flx_meltano.catalog.patterns import parse_patterns
from flx_meltano.engine.commands import plugin_command
from flx_meltano.engine.paths import catalog_dir
from flx_meltano.plugin_settings import resolve_config
from flx_meltano.runner import PrivateFiles, RunnerError

#: Capabilities that make a tap take a catalog (only then do select rules apply).
CATALOG_CAPABILITIES = frozenset({Capability.CATALOG.value, Capability.PROPERTIES.value})
#: Fields of a pipeline update after which its rules are checked again.
CHECKED_CHANGES = frozenset(
    {
        "select",
        "metadata",
        "extractor",
        "config",
        "schema_overrides",
        "select_filter",
        "catalog_path",
    }
)


class DiscoveryFailed(DomainError):
    """The tap's ``--discover`` failed; the message carries its last stderr lines."""

    code = "discovery_failed"


class ListStreams(Query):
    """The streams and properties of extractor ``plugin``'s catalog, and what ``pipeline``'s
    select rules and metadata pick of them (as ``meltano select --list --all``).

    Discovery runs as a run does (same config, same cache file); ``refresh`` runs it again.
    A pipeline's schema overrides and select filter apply as in its runs, and a pipeline
    with a catalog file lists that file instead. ``config``, ``select`` and ``metadata``
    stand in for the pipeline's own (to try rules, or for a pipeline not created yet).
    Discovery starts the tap with the pipeline's credentials, so it needs the permission to
    run pipelines.
    """

    permission = Permission.PIPELINE_RUN

    plugin: str
    pipeline: str | None = None
    refresh: bool = False
    config: dict[str, Any] | None = None
    select: list[str] | None = None
    metadata: dict[str, dict[str, Any]] | None = None


class PropertyListing(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    inclusion: str
    selected: bool
    label: str


class StreamListing(BaseModel):
    model_config = ConfigDict(frozen=True)

    stream: str
    selected: bool
    replication_method: str | None = None
    replication_key: str | None = None
    properties: list[PropertyListing] = Field(default_factory=list)


class StreamsListing(BaseModel):
    """The answer of ``ListStreams``; ``unmatched`` names the rules that match nothing."""

    model_config = ConfigDict(frozen=True)

    plugin: str
    pipeline: str | None = None
    cached: bool
    #: False for a tap that takes no catalog: runs ignore select rules and metadata then.
    selection_applied: bool = True
    select: list[str] = Field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    streams: list[StreamListing] = Field(default_factory=list)
    unmatched: list[str] = Field(default_factory=list)


def catalog_source(
    plugin: Plugin, pipeline: Pipeline | None, settings: FlxSettings, environ: Mapping[str, str]
) -> tuple[str, dict[str, Any], Path]:
    """The tap's command, its effective config in ``pipeline`` and its catalog cache file:
    the ones a run of the pipeline uses."""
    command = plugin_command(plugin, settings.plugins_path)
    config = resolve_config(plugin, pipeline, environ)
    cache = catalog_cache_file(catalog_dir(settings.home_path), plugin.name, command, config)
    return command, config, cache


def _candidate(
    pipeline: Pipeline | None, plugin: Plugin, qry: ListStreams
) -> tuple[Pipeline | None, list[str], dict[str, dict[str, Any]]]:
    """The pipeline as the query wants it seen, its select rules and metadata."""
    select = list(pipeline.select) if pipeline else []
    metadata = dict(pipeline.metadata) if pipeline else {}
    if qry.select is not None:
        select = list(qry.select)
    if qry.metadata is not None:
        metadata = dict(qry.metadata)
    if qry.config is not None:
        base = pipeline or Pipeline(name="streams", extractor=plugin.name, loader=plugin.name)
        config = {k: dict(v) for k, v in base.config.items()}
        config[plugin.name] = {**config.get(plugin.name, {}), **qry.config}
        pipeline = base.model_copy(update={"config": config})
    return pipeline, select, metadata


@handlers.query(ListStreams)
async def list_streams(
    qry: ListStreams, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[StreamsListing]:
    # A short transaction of its own: none stays open while the tap discovers.
    async with ctx.uow_factory() as uow:
        plugin = await uow.plugins.get_by_name(qry.plugin)
        pipeline = await load_pipeline(uow, qry.pipeline) if qry.pipeline else None
    if plugin is None:
        raise NotFound(f"plugin {qry.plugin!r} not found", plugin=qry.plugin)
    if plugin.plugin_type is not PluginType.EXTRACTOR:
        raise ValidationFailed(
            f"plugin {plugin.name!r} is a {plugin.plugin_type.value}: streams come from an "
            "extractor",
            plugin=plugin.name,
        )
    if pipeline is not None and pipeline.extractor != plugin.name:
        raise ValidationFailed(
            f"pipeline {pipeline.name!r} extracts with {pipeline.extractor!r}, not {plugin.name!r}",
            pipeline=pipeline.name,
        )
    caps = {c.strip().lower() for c in plugin.capabilities}
    if not caps & (CATALOG_CAPABILITIES | {Capability.DISCOVER.value}):
        raise ValidationFailed(
            f"{plugin.name} declares none of the catalog, properties and discover "
            "capabilities: it cannot list its streams, and runs extract what it extracts "
            "by default",
            plugin=plugin.name,
        )
    named = pipeline.name if pipeline is not None else None
    pipeline, select, metadata = _candidate(pipeline, plugin, qry)
    command, config, cache = catalog_source(plugin, pipeline, settings, os.environ)
    provided = pipeline.catalog_path if pipeline is not None else None
    cached = provided is None and not qry.refresh and read_cache(cache) is not None
    home = settings.home_path
    home.mkdir(parents=True, exist_ok=True)
    schema = pipeline.schema_overrides if pipeline is not None else {}
    select_filter = pipeline.select_filter if pipeline is not None else []
    try:
        if provided is not None:
            applied = run_catalog(
                read_catalog_file(provided), select_filter=select_filter, provided=True
            )
            unmatched = []
        else:
            with PrivateFiles(prefix=f"flx-discover-{plugin.name}-") as files:
                config_path = files.write_json("config.json", config)
                discovered = await discover(
                    command,
                    config_path,
                    cache_path=cache,
                    refresh=qry.refresh,
                    name=plugin.name,
                    cwd=home,
                )
            shaped = apply_schema(discovered, schema)
            applied = run_catalog(
                shaped, select=select, metadata=metadata, select_filter=select_filter
            )
            unmatched = unmatched_rules(shaped, select, metadata, tap=plugin.name)
        streams = [_stream(s, applied) for s in list_selection(applied)]
    except DiscoveryError as exc:
        raise DiscoveryFailed(str(exc), plugin=plugin.name) from None
    except RunnerError as exc:
        raise ValidationFailed(str(exc), plugin=plugin.name) from None
    except (SelectPatternError, CatalogError, SchemaOverrideError) as exc:
        raise ValidationFailed(str(exc), plugin=plugin.name) from None
    return ServiceResult.success(
        StreamsListing(
            plugin=plugin.name,
            pipeline=named,
            cached=cached,
            selection_applied=bool(caps & CATALOG_CAPABILITIES),
            select=select,
            metadata=metadata,
            streams=streams,
            unmatched=unmatched,
        )
    )


def _stream(selection: StreamSelection, catalog: Mapping[str, Any]) -> StreamListing:
    meta = _stream_metadata(catalog, selection.stream)
    method = meta.get("replication-method") or meta.get("forced-replication-method")
    key = meta.get("replication-key")
    if key is None and len(meta.get("valid-replication-keys") or []) == 1:
        key = meta["valid-replication-keys"][0]
    return StreamListing(
        stream=selection.stream,
        selected=selection.selected,
        replication_method=str(method) if method else None,
        replication_key=str(key) if key else None,
        properties=[
            PropertyListing(path=p.path, inclusion=p.inclusion, selected=p.selected, label=p.label)
            for p in selection.properties
        ],
    )


def _stream_metadata(catalog: Mapping[str, Any], sid: str) -> Mapping[str, Any]:
    for stream in catalog.get("streams", []):
        if (stream.get("tap_stream_id") or stream.get("stream")) != sid:
            continue
        for entry in stream.get("metadata") or []:
            if isinstance(entry, Mapping) and entry.get("breadcrumb") == []:
                found = entry.get("metadata")
                return found if isinstance(found, Mapping) else {}
    return {}


@handlers.check(CreatePipeline, UpdatePipeline)
async def refuse_rules_matching_nothing(
    cmd: Command, value: Pipeline, ctx: HandlerContext, *, settings: FlxSettings
) -> None:
    """Refuse select rules that do not parse, and, when a catalog is cached for the tap with
    the pipeline's effective config, select rules and metadata keys that match nothing in
    it (each named with the closest stream or property)."""
    if isinstance(cmd, UpdatePipeline) and not CHECKED_CHANGES & set(cmd.changes):
        return
    try:
        parse_patterns(list(value.select_filter))
    except SelectPatternError as exc:
        raise ValidationFailed(f"select filter: {exc}", pipeline=value.name) from None
    if not value.select and not value.metadata:
        return
    try:
        parse_patterns(list(value.select))
    except SelectPatternError as exc:
        raise ValidationFailed(str(exc), pipeline=value.name) from None
    if value.catalog_path is not None:
        return  # a catalog file is used as it is: rules do not apply to it
    catalog, plugin = await _cached_catalog(value, ctx, settings)
    if catalog is None or plugin is None:
        return
    try:
        shaped = apply_schema(catalog, value.schema_overrides)
        messages = unmatched_rules(shaped, value.select, value.metadata, tap=plugin.name)
    except (SelectPatternError, CatalogError, SchemaOverrideError):
        return
    if messages:
        raise ValidationFailed(
            "\n".join(messages)
            + f"\n(`flx plugin streams {plugin.name}` lists its streams; if the source "
            "changed, `--refresh` there discovers them again)",
            pipeline=value.name,
            unmatched=messages,
        )


async def _cached_catalog(
    pipeline: Pipeline, ctx: HandlerContext, settings: FlxSettings
) -> tuple[dict[str, Any] | None, Plugin | None]:
    """The catalog cached for the pipeline's tap and effective config, if there is one.

    Nothing is discovered here: a tap not installed yet, a missing required setting or no
    cached catalog just means there is nothing to check against (the run will tell).
    """
    plugin = await ctx.uow.plugins.get_by_name(pipeline.extractor)
    if plugin is None or plugin.plugin_type is not PluginType.EXTRACTOR:
        return None, None
    if not {c.strip().lower() for c in plugin.capabilities} & CATALOG_CAPABILITIES:
        return None, None
    try:
        _, _, cache = catalog_source(plugin, pipeline, settings, os.environ)
    except (DomainError, RunnerError, OSError, ValueError):
        return None, None
    return read_cache(cache), plugin
