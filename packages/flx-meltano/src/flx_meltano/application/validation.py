"""``ValidatePipeline``: would this pipeline run? Every problem found, not only the first."""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from flx_core.application import HandlerContext, Query, load_pipeline
from flx_core.config import FlxSettings
from flx_core.domain import DomainError, Permission, PluginType, ServiceResult
from flx_meltano.application.module import handlers
from flx_meltano.catalog.patterns import parse_patterns
from flx_meltano.catalog.rules import read_catalog_file
from flx_meltano.engine.commands import plugin_command
from flx_meltano.engine.incoming_state import read_state_file
from flx_meltano.plugin_settings import resolve_config


class ValidatePipeline(Query):
    permission = Permission.PIPELINE_READ

    pipeline: str


class PipelineValidation(BaseModel):
    pipeline: str
    valid: bool
    problems: list[str] = Field(default_factory=list)


_ROLES = (
    ("extractor", PluginType.EXTRACTOR),
    ("mapper", PluginType.MAPPER),
    ("loader", PluginType.LOADER),
)


@handlers.query(ValidatePipeline)
async def validate_pipeline(
    qry: ValidatePipeline, ctx: HandlerContext, *, settings: FlxSettings
) -> ServiceResult[PipelineValidation]:
    pipeline = await load_pipeline(ctx.uow, qry.pipeline)
    problems: list[str] = []
    wanted = [
        ("extractor", pipeline.extractor),
        *(("mapper", m) for m in pipeline.mappers),
        ("loader", pipeline.loader),
    ]
    kinds = dict(_ROLES)
    for role, name in wanted:
        plugin = await ctx.uow.plugins.get_by_name(name)
        if plugin is None:
            problems.append(f"{role} {name!r} is not a plugin (add it with `flx plugin add`)")
            continue
        if plugin.plugin_type is not kinds[role]:
            problems.append(f"{name!r} is a {plugin.plugin_type.value}, not a {role}")
            continue
        for check in (
            lambda p=plugin: plugin_command(p, settings.plugins_path),
            lambda p=plugin: resolve_config(p, pipeline, os.environ),
        ):
            try:
                check()
            except DomainError as exc:
                problems.append(exc.message)
    for what, rules in (("select", pipeline.select), ("select_filter", pipeline.select_filter)):
        try:
            parse_patterns(rules)
        except (DomainError, ValueError) as exc:
            problems.append(f"{what}: {getattr(exc, 'message', exc)}")
    # The files are read where the run goes: checked here for the embedded default.
    for path, read in (
        (pipeline.catalog_path, read_catalog_file),
        (pipeline.state_path, read_state_file),
    ):
        try:
            if path is not None:
                read(path)
        except ValueError as exc:
            problems.append(str(exc))
    return ServiceResult.success(
        PipelineValidation(pipeline=pipeline.name, valid=not problems, problems=problems)
    )
