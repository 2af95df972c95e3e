"""PipelineService: create, list, get, change, delete, enable, disable, validate.

Every pipeline in an answer has the settings its plugins declare secret masked.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio

from flx_core.application import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    ListPlugins,
    UpdatePipeline,
)
from flx_core.domain import Pipeline
from flx_core.domain.ports import PipelineFilter
from flx_grpc._caller import Caller, build, current
from flx_grpc._convert import masked_changes, plain, to_proto
from flx_grpc._errors import RpcFailure, failure_for, invalid_field
from flx_grpc._generated.flx.v1 import (
    pipeline_service_pb2 as pb,
    pipeline_service_pb2_grpc,
    types_pb2,
)
from flx_grpc.services._base import page_size
from flx_meltano import ValidatePipeline

Context: TypeAlias = aio.ServicerContext[Any, Any]


async def secret_names(caller: Caller) -> dict[str, frozenset[str]]:
    """The settings each plugin declares secret (plugin name -> names)."""
    plugins = await caller(ListPlugins())
    return {p.name: p.secret_names for p in plugins}


def pipeline_message(pipeline: Pipeline, declared: dict[str, frozenset[str]]) -> Any:
    return to_proto(
        pipeline,
        types_pb2.Pipeline,
        config=pipeline.masked_config(declared),
        schedule=pipeline.schedule.value if pipeline.schedule else None,
    )


async def shown(caller: Caller, pipeline: Pipeline) -> Any:
    return pipeline_message(pipeline, await secret_names(caller))


async def changed(
    caller: Caller, pipeline: str, changes: dict[str, Any], expected: int | None
) -> Pipeline:
    message = build(UpdatePipeline, pipeline=pipeline, changes=changes, expected_version=expected)
    result = await caller.app.execute(message, principal=caller.principal)
    if not result.ok and result.error_code == "conflict" and expected is not None:
        raise RpcFailure(
            "conflict", result.message or "version moved", details={"expected": expected}
        )
    if not result.ok or not isinstance(result.value, Pipeline):
        raise failure_for(result)
    return result.value


def _expected(request: Any) -> int | None:
    return request.expected_version if request.HasField("expected_version") else None


class PipelineServicer(pipeline_service_pb2_grpc.PipelineServiceServicer):
    async def ListPipelines(self, request: pb.ListPipelinesRequest, context: Context) -> Any:
        caller = current()
        paging = ("page_size", "page_token")
        flt = build(PipelineFilter, **{k: v for k, v in plain(request).items() if k not in paging})
        query = build(
            ListPipelines,
            filter=flt,
            limit=page_size(request.page_size, 50, 500),
            cursor=request.page_token or None,
        )
        page = await caller(query)
        declared = await secret_names(caller)
        return pb.ListPipelinesResponse(
            pipelines=[pipeline_message(p, declared) for p in page.items],
            next_page_token=page.next_cursor or "",
        )

    async def CreatePipeline(self, request: pb.CreatePipelineRequest, context: Context) -> Any:
        if not request.HasField("pipeline"):
            raise invalid_field("pipeline", "give the pipeline to create")
        caller = current()
        pipeline = await caller(build(CreatePipeline, **plain(request.pipeline)))
        return await shown(caller, pipeline)

    async def GetPipeline(self, request: pb.GetPipelineRequest, context: Context) -> Any:
        caller = current()
        return await shown(caller, await caller(build(GetPipeline, pipeline=request.pipeline)))

    async def UpdatePipeline(self, request: pb.UpdatePipelineRequest, context: Context) -> Any:
        paths = [p for p in request.update_mask.paths if p != "name"]
        if not paths:
            raise invalid_field("update_mask", "name the fields to change")
        changes = masked_changes(request.changes, paths)
        if changes.get("schedule") == "":
            changes["schedule"] = None
        caller = current()
        return await shown(
            caller, await changed(caller, request.pipeline, changes, _expected(request))
        )

    async def DeletePipeline(self, request: pb.DeletePipelineRequest, context: Context) -> Any:
        caller = current()
        expected = _expected(request)
        if expected is not None:
            found: Pipeline = await caller(build(GetPipeline, pipeline=request.pipeline))
            if found.version != expected:
                raise RpcFailure(
                    "precondition_failed",
                    f"pipeline {found.name!r} is at version {found.version}, not {expected}",
                    details={"expected": expected, "actual": found.version},
                )
        await caller(build(DeletePipeline, pipeline=request.pipeline))
        return pb.DeletePipelineResponse()

    async def EnablePipeline(self, request: pb.EnablePipelineRequest, context: Context) -> Any:
        caller = current()
        pipeline = await changed(caller, request.pipeline, {"enabled": True}, _expected(request))
        return await shown(caller, pipeline)

    async def DisablePipeline(self, request: pb.DisablePipelineRequest, context: Context) -> Any:
        caller = current()
        pipeline = await changed(caller, request.pipeline, {"enabled": False}, _expected(request))
        return await shown(caller, pipeline)

    async def ValidatePipeline(self, request: pb.ValidatePipelineRequest, context: Context) -> Any:
        result = await current()(build(ValidatePipeline, pipeline=request.pipeline))
        return to_proto(result, pb.PipelineValidation)
