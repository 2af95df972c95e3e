"""Pipeline use cases: create, update (optimistic locking), delete, get, list."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from flx_core.application.context import HandlerContext
from flx_core.application.messages import Command, Query
from flx_core.application.modules import ApplicationModule
from flx_core.domain.errors import AlreadyExists, ConcurrencyConflict, NotFound
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.ports import Page, PipelineFilter, UnitOfWork
from flx_core.domain.pydantic_base import ServiceResult
from flx_core.domain.secrets import keep_masked
from flx_core.domain.security import Permission

module = ApplicationModule("core")
core_module = module


class CreatePipeline(Command):
    permission = Permission.PIPELINE_WRITE

    name: str
    extractor: str
    loader: str
    mappers: list[str] = Field(default_factory=list)
    description: str = ""
    config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    select: list[str] = Field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: str | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    state_id: str = ""
    retries: int = 0
    retry_delay: float = 60.0
    on_conflict: Literal["reject", "queue"] = "reject"
    queue: str | None = None
    timezone: str = "UTC"
    catchup: Literal["skip", "all"] = "skip"
    # Meltano's extractor extras schema, catalog, state, load_schema and select_filter.
    schema_overrides: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="JSON schemas of catalog properties, by stream and property pattern: "
        '{"users": {"score": {"type": ["string", "null"]}}}',
    )
    catalog_path: str | None = Field(
        default=None,
        description="Absolute path of a catalog file used instead of discovery "
        "(select, metadata and schema overrides are then not applied)",
    )
    state_path: str | None = Field(
        default=None,
        description="Absolute path of a state file each run starts from instead of the "
        "stored state",
    )
    load_schema: str | None = Field(
        default=None,
        description="Schema the loader writes to: the value of $MELTANO_EXTRACT__LOAD_SCHEMA "
        "in its settings (default: the extractor's namespace)",
    )
    select_filter: list[str] = Field(
        default_factory=list,
        description="Stream patterns applied after the selection ('users', '!events'): "
        "streams they leave out are not extracted",
    )


class UpdatePipeline(Command):
    """Change some fields. With ``expected_version`` the update is refused if the pipeline
    moved past that version (a stale read)."""

    permission = Permission.PIPELINE_WRITE

    pipeline: str
    changes: dict[str, Any]
    expected_version: int | None = None


class DeletePipeline(Command):
    permission = Permission.PIPELINE_WRITE

    pipeline: str


class GetPipeline(Query):
    permission = Permission.PIPELINE_READ

    pipeline: str


class ListPipelines(Query):
    permission = Permission.PIPELINE_READ

    filter: PipelineFilter = Field(default_factory=PipelineFilter)
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


async def load_pipeline(uow: UnitOfWork, ref: str) -> Pipeline:
    """A pipeline by name or id; NotFound names what was asked for."""
    pipeline = await uow.pipelines.get_by_name(ref) or await uow.pipelines.get(ref)
    if pipeline is None:
        raise NotFound(f"pipeline {ref!r} not found", pipeline=ref)
    uow.track(pipeline)
    return pipeline


def _schedule_value(value: Any) -> Any:
    if isinstance(value, str):
        return {"value": value} if value.strip() else None
    return value


@module.command(CreatePipeline)
async def create_pipeline(cmd: CreatePipeline, ctx: HandlerContext) -> ServiceResult[Pipeline]:
    if await ctx.uow.pipelines.get_by_name(cmd.name):
        raise AlreadyExists(f"pipeline {cmd.name!r} already exists", pipeline=cmd.name)
    from flx_core.application.plugins import typed_config

    fields = cmd.model_dump()
    fields["schedule"] = _schedule_value(fields["schedule"])
    # Whatever adapter sent it, each value takes the kind its plugin declares.
    fields["config"] = await typed_config(ctx.uow, fields["config"], cmd.name)
    pipeline = Pipeline.create(**fields, created_at=ctx.clock.now(), updated_at=ctx.clock.now())
    await ctx.uow.pipelines.add(pipeline)
    ctx.uow.track(pipeline)
    return ServiceResult.success(pipeline)


@module.command(UpdatePipeline)
async def update_pipeline(cmd: UpdatePipeline, ctx: HandlerContext) -> ServiceResult[Pipeline]:
    pipeline = await load_pipeline(ctx.uow, cmd.pipeline)
    if cmd.expected_version is not None and cmd.expected_version != pipeline.version:
        raise ConcurrencyConflict(
            f"pipeline {pipeline.name!r} changed since version {cmd.expected_version} "
            f"(now at version {pipeline.version}); reload it and retry",
            pipeline=pipeline.name,
            expected=cmd.expected_version,
            actual=pipeline.version,
        )
    from flx_core.application.plugins import typed_config

    changes = dict(cmd.changes)
    if "schedule" in changes:
        changes["schedule"] = _schedule_value(changes["schedule"])
    if isinstance(changes.get("config"), dict):
        config = keep_masked(changes["config"], pipeline.config)
        changes["config"] = await typed_config(ctx.uow, config, pipeline.name)
    if pipeline.update(now=ctx.clock.now(), **changes):
        await ctx.uow.pipelines.save(pipeline)
    return ServiceResult.success(pipeline)


@module.command(DeletePipeline)
async def delete_pipeline(cmd: DeletePipeline, ctx: HandlerContext) -> ServiceResult[Pipeline]:
    pipeline = await load_pipeline(ctx.uow, cmd.pipeline)
    pipeline.delete()
    await ctx.uow.pipelines.delete(pipeline)
    return ServiceResult.success(pipeline)


@module.query(GetPipeline)
async def get_pipeline(qry: GetPipeline, ctx: HandlerContext) -> ServiceResult[Pipeline]:
    return ServiceResult.success(await load_pipeline(ctx.uow, qry.pipeline))


@module.query(ListPipelines)
async def list_pipelines(qry: ListPipelines, ctx: HandlerContext) -> ServiceResult[Page[Pipeline]]:
    page = await ctx.uow.pipelines.list(qry.filter, limit=qry.limit, cursor=qry.cursor)
    return ServiceResult.success(page)
